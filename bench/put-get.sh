#!/usr/bin/env bash
# Benchmark: time `p2p put` (k=3) and `p2p get` (from 3 holders) of one random
# file on a local cluster of its own (tracker + 3 peers, data dirs in a temp
# dir), and report MB/s and peak RSS of the client and the peers. Also
# measures ceilings on this machine in the same run (SHA-256, disk write,
# TCP loopback) when the tools are there. Not part of `make test`.
#
#   bench/put-get.sh                 # 1 GiB
#   SIZE_MB=256 bench/put-get.sh
#
# Environment: SIZE_MB (default 1024), GET_RUNS (default 3), BUILD_DIR (default build), TMPDIR.
# Tools: /usr/bin/time (package `time`) for the client's peak RSS; openssl and
# iperf3 for ceilings (scripts/install-deps --bench installs them).
set -euo pipefail

cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1024}
GET_RUNS=${GET_RUNS:-3}
BUILD_DIR=${BUILD_DIR:-build}
BIN=$BUILD_DIR/bin
PEERS=3
START_TIMEOUT_S=15

WORK_PREFIX=p2p-bench
# shellcheck source=bench/lib.sh
source bench/lib.sh  # (we are in the repo root)

# MB/s in 10^6 bytes, the unit of the ceilings above (openssl, dd, iperf3).
mb_per_s() { awk -v mib="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", mib * 1.048576 / s; else print "n/a" }'; }

# Runs a command under /usr/bin/time -v if available; sets ELAPSED (s) and RSS_KB.
timed() {
  local tlog=$work/time.log
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -v -o "$tlog" "$@"
    ELAPSED=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s }' "$tlog")
    RSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tlog")
  else
    local t0 t1
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    RSS_KB="n/a (install the 'time' package)"
  fi
}

echo "== p2p-share put/get benchmark: ${SIZE_MB} MiB, $PEERS peers, k=3, $(nproc) cores, work dir $work"

echo "-- ceilings"
if command -v openssl >/dev/null; then
  openssl speed -evp sha256 -bytes 1048576 -seconds 2 2>/dev/null |
    awk '/^sha256/ || /^SHA256/ { printf "sha256 (1 MiB blocks, 1 core): %.0f MB/s\n", $NF / 1000 }' || true
else
  echo "sha256: openssl not installed"
fi
ceiling_mb=$((SIZE_MB < 512 ? SIZE_MB : 512))
dd if=/dev/zero of="$work/dd.bin" bs=1M count="$ceiling_mb" conv=fsync 2>&1 | awk '/copied/ { print "disk write + fsync (dd, '"$ceiling_mb"' MiB): " $(NF-1) " " $NF }'
rm -f "$work/dd.bin"
if command -v iperf3 >/dev/null; then
  port=$((20000 + RANDOM % 20000))
  iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
  ipid=$!
  pids+=("$ipid")
  for _ in $(seq 50); do iperf3 -c 127.0.0.1 -p "$port" -t 2 -f M 2>/dev/null >"$work/iperf.txt" && break; sleep 0.1; done
  awk '/receiver/ { print "tcp loopback (iperf3, 1 stream): " $(NF-2) " " $(NF-1) }' "$work/iperf.txt" || true
else
  echo "tcp loopback: iperf3 not installed (scripts/install-deps --bench)"
fi

echo "-- cluster"
"$BIN/p2p-tracker" --listen tcp://127.0.0.1:0 >"$work/tracker.out" 2>"$work/tracker.log" </dev/null &
pids+=($!)
tracker=$(listening "$work/tracker.out" "$!")
export P2P_TRACKER=$tracker
peer_pids=()
for ((i = 1; i <= PEERS; i++)); do
  "$BIN/p2p-peer" --tracker "$tracker" --data "$work/peer$i" >"$work/peer$i.out" 2>"$work/peer$i.log" </dev/null &
  pids+=($!)
  peer_pids+=($!)
  listening "$work/peer$i.out" "$!" >/dev/null
done
deadline=$((SECONDS + START_TIMEOUT_S))
until [[ $("$BIN/p2p" peers --json | grep -c '"peer_id"') -eq $PEERS ]]; do
  ((SECONDS < deadline)) || { echo "bench: peers did not register" >&2; exit 1; }
  sleep 0.2
done
echo "tracker $tracker, $PEERS peers live"

echo "-- input: ${SIZE_MB} MiB from /dev/urandom"
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom >"$work/input.bin"

# Each timed step starts with no dirty pages from the step before: otherwise
# the kernel's writeback of the previous step's gigabytes throttles this
# step's writes (balance_dirty_pages), and it is charged for them.
sync
echo "-- put (k=3)"
timed "$BIN/p2p" -q put "$work/input.bin" --name bench.bin --replicas 3
put_s=$ELAPSED put_rss=$RSS_KB

# The first get after the put also pays for page-cache memory the VM has not
# touched recently: perf puts ~45% of its samples in the kernel's pwrite copy
# (copy_folio_from_iter_atomic), and a plain `dd bs=1M count=1024` into a new
# file takes ~2.5 s the first time against ~0.2 s when reusing just-freed
# pages. The runs after it reuse the pages the previous output freed. So the
# get is timed GET_RUNS times, each into a new file, and every run is shown.
want=$(sha256sum <"$work/input.bin")
get_times=()
for ((run = 1; run <= GET_RUNS; run++)); do
  rm -f "$work/output.bin"
  sync
  echo "-- get (from $PEERS holders), run $run of $GET_RUNS"
  timed "$BIN/p2p" -q get bench.bin -o "$work/output.bin"
  get_times+=("$ELAPSED")
  get_rss=$RSS_KB
  got=$(sha256sum <"$work/output.bin")
  [[ $want == "$got" ]] || { echo "bench: output differs from input!" >&2; exit 1; }
done
get_s=$(printf '%s\n' "${get_times[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')

echo
echo "== results (${SIZE_MB} MiB file; MB/s = 10^6 bytes of file per second, as the ceilings)"
printf '%-6s %10s %10s %18s\n' op seconds MB/s "client peak RSS"
printf '%-6s %10s %10s %15s KiB\n' put "$put_s" "$(mb_per_s "$SIZE_MB" "$put_s")" "$put_rss"
printf '%-6s %10s %10s %15s KiB   (median of %d runs)\n' get "$get_s" "$(mb_per_s "$SIZE_MB" "$get_s")" "$get_rss" "$GET_RUNS"
for ((run = 0; run < GET_RUNS; run++)); do
  t=${get_times[$run]}
  printf '  get run %d: %s s, %s MB/s\n' "$((run + 1))" "$t" "$(mb_per_s "$SIZE_MB" "$t")"
done
for ((i = 0; i < PEERS; i++)); do
  pid=${peer_pids[$i]}
  hwm=$(awk '/VmHWM/ { print $2 " " $3 }' "/proc/$pid/status" 2>/dev/null || echo "n/a")
  echo "peer$((i + 1)) (pid $pid) peak RSS (VmHWM): $hwm"
done
echo "output verified: SHA-256 identical"
