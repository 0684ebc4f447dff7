# shellcheck shell=bash
# shellcheck disable=SC2034  # ELAPSED, RSS_KB, tracker, ...: set here for the scripts that source it
# Shared by the bench/ scripts: source it after setting BIN, START_TIMEOUT_S
# and WORK_PREFIX (and NEED_BINS, the programs of $BIN the script runs; by
# default the tracker, the peer and the CLI). It checks the binaries, makes the
# work dir ($work), and keeps the pids of the processes the script starts
# ($pids) so that they, and only they, are killed on exit. Never by name:
# other people's clusters and tests run on the same machine.

NEED_BINS=${NEED_BINS-p2p-tracker p2p-peer p2p}
for b in $NEED_BINS; do
  [[ -x $BIN/$b ]] || { echo "bench: $BIN/$b missing; run 'make build'" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/${WORK_PREFIX}-XXXXXX")
pids=()
# Everything here is throwaway (data dirs included), so no graceful drain: SIGKILL.
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "bench: $*" >&2; exit 1; }

# Forgets a pid (reaped) so that cleanup never signals a recycled one.
forget_pid() {
  local p keep=()
  for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}

# Kills one process this script started and forgets it.
stop_pid() {
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget_pid "$1"
}

# Waits for a server's `listening <endpoint>` line; prints the endpoint.
listening() {
  local out=$1 pid=$2 deadline=$((SECONDS + START_TIMEOUT_S))
  while ((SECONDS < deadline)); do
    grep -q '^listening ' "$out" 2>/dev/null && { sed -n 's/^listening //p' "$out" | head -n1; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: server did not start; see ${out%.out}.log" >&2
  return 1
}

# --- cluster -----------------------------------------------------------------

# start_tracker [FLAGS...]: a tracker on an OS-chosen port of 127.0.0.1;
# sets and exports P2P_TRACKER (and $tracker). No rejoin window: its peers are
# the ones start_peers starts after it, none can be rejoining (as scripts/cluster start).
start_tracker() {
  "$BIN/p2p-tracker" --listen tcp://127.0.0.1:0 --rejoin-window-ms 0 "$@" >"$work/tracker.out" \
    2>"$work/tracker.log" </dev/null &
  pids+=($!)
  tracker_pid=$!
  tracker=$(listening "$work/tracker.out" "$!")
  export P2P_TRACKER=$tracker
}

# start_peers N [FLAGS...]: N peers (data dirs $work/peerI) registered at
# $tracker; appends to peer_pids and peer_eps, waits until all are live.
peer_pids=() peer_eps=()
start_peers() {
  local n=$1 i first=$((${#peer_pids[@]} + 1))
  shift
  for ((i = first; i < first + n; i++)); do
    "$BIN/p2p-peer" --tracker "$tracker" --data "$work/peer$i" "$@" >"$work/peer$i.out" 2>"$work/peer$i.log" </dev/null &
    pids+=($!)
    peer_pids+=($!)
    peer_eps+=("$(listening "$work/peer$i.out" "$!")")
  done
  local deadline=$((SECONDS + START_TIMEOUT_S))
  until [[ $("$BIN/p2p" peers --json | grep -c '"peer_id"') -ge ${#peer_pids[@]} ]]; do
    ((SECONDS < deadline)) || die "peers did not register"
    sleep 0.2
  done
}

# --- measuring ---------------------------------------------------------------

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

# MB/s (MB = 10^6 B) of BYTES in SECONDS.
mb_per_s() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / 1e6 / s; else print "n/a" }'; }

# Median of the numbers given (the lower middle one for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# Percentile P (0-100) of the numbers on stdin, nearest rank.
percentile() { sort -g | awk -v p="$1" '{ v[NR] = $1 } END { if (NR) { i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; print v[i] } }'; }

# Runs a command (stdout discarded) under /usr/bin/time -v; sets ELAPSED (s,
# wall clock to the microsecond: time's own is to 10 ms) and RSS_KB (peak RSS).
timed() {
  local tlog=$work/time.log t0
  [[ -x /usr/bin/time ]] || die "/usr/bin/time missing (package 'time'; make bench-deps)"
  t0=$(now)
  /usr/bin/time -v -o "$tlog" "$@" >/dev/null
  ELAPSED=$(since "$t0")
  RSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tlog")
}

# Peak RSS (VmHWM, KiB) of a running process, and its reset to the current
# RSS (Linux: `5` in clear_refs) so that the next peak is one step's alone.
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { status_kb "$1" VmHWM; }
# CPU time (user + system) a process has used so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

reset_hwm() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true; }
# reset_hwms PIDS...: reset_hwm of each, remembering its RSS at that moment
# (RSS_AT_RESET) for max_added_kb.
declare -A RSS_AT_RESET=()
reset_hwms() { local p; for p in "$@"; do reset_hwm "$p"; RSS_AT_RESET[$p]=$(status_kb "$p" VmRSS); done; }
# Largest rise (KiB) of a peak above the RSS at its reset, among the pids
# given: what one step added to a long-lived process, whatever memory its
# allocator kept from earlier steps.
max_added_kb() {
  local p m=0 d
  for p in "$@"; do
    d=$(($(hwm_kb "$p") - ${RSS_AT_RESET[$p]:-0}))
    ((d > m)) && m=$d
  done
  echo "$m"
}
# Largest VmHWM (KiB) among the pids given.
max_hwm_kb() { local p m=0 h; for p in "$@"; do h=$(hwm_kb "$p"); ((h > m)) && m=$h; done; echo "$m"; }
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# SHA-256 of a file in hex; OpenSSL (SHA-NI) is ~7x faster than coreutils here.
sha256_of() {
  if command -v openssl >/dev/null; then openssl dgst -sha256 -r "$1" | cut -d' ' -f1; else sha256sum "$1" | cut -d' ' -f1; fi
}

# A TCP and UDP port of 127.0.0.1 nobody listens on (for tools that cannot
# take port 0). Racy in theory; the ports are random in 20000-59999.
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    ss -Htanu 2>/dev/null | awk '{ print $5 }' | grep -q ":$port\$" || { echo "$port"; return 0; }
  done
  die "no free port found"
}

# --- results -----------------------------------------------------------------
# Each part script appends its figures to one TSV file ($PART_FILE, set by
# part_begin): key, value, unit, runs (comma-separated, may be empty), note.
# bench/report joins the parts into the table, the JSON and the chart.

part_begin() {
  PARTS_DIR=${PARTS_DIR:-bench/results/parts}
  mkdir -p "$PARTS_DIR"
  PART_FILE=$PARTS_DIR/$1.tsv
  printf '%s_at\t%s\t-\t\tload %s\n' "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(cut -d' ' -f1-3 /proc/loadavg)" >"$PART_FILE"
}

# emit KEY VALUE UNIT [RUNS] [NOTE]
emit() {
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" "${5:-}" >>"$PART_FILE"
  printf '  %-28s %12s %-8s %s\n' "$1" "$2" "$3" "${4:+runs $4}" >&2
}

# Comma-joined arguments (the runs column).
joined() { local IFS=,; echo "$*"; }

say() { echo "-- $*" >&2; }
