#!/usr/bin/env bash
# Benchmark: repair after a crash and drain on SIGTERM, on a local cluster of
# its own (tracker + 5 peers on 127.0.0.1, data dirs in a temp dir).
#
#   1. put 20 random files (sizes growing 1:2:...:20, TOTAL_MB MiB in all) at k=3;
#   2. kill -9 the peer holding the most bytes, time kill -> every file back at
#      3 live holders (polled every POLL_MS), report repair throughput;
#   3. SIGTERM the peer now holding the most bytes (first putting extra files
#      until some peer holds about DRAIN_MB MiB, if none does), time SIGTERM ->
#      process exit (it exits 0 once the tracker releases it), check every file
#      still has min(3, live peers) holders;
#   4. get every file from the remaining peers and compare SHA-256.
# Not part of `make test`.
#
#   bench/replication.sh                          # 1 GiB, drain ~400 MiB
#   TOTAL_MB=256 DRAIN_MB=100 BUILD_DIR=build-lead bench/replication.sh
#
# Environment: TOTAL_MB (1024), DRAIN_MB (400), FILES (20), PEERS (5),
# REPLICAS (3), HEARTBEAT_MS (200), LIVENESS (3), REPAIR_GRACE_MS (2000),
# POLL_MS (100), REPAIR_TIMEOUT_S (600), DRAIN_TIMEOUT_S (300),
# BUILD_DIR (build), TMPDIR. Tools: jq.
set -euo pipefail

cd "$(dirname "$0")/.."
TOTAL_MB=${TOTAL_MB:-1024}
DRAIN_MB=${DRAIN_MB:-400}
FILES=${FILES:-20}
PEERS=${PEERS:-5}
REPLICAS=${REPLICAS:-3}
HEARTBEAT_MS=${HEARTBEAT_MS:-200}
LIVENESS=${LIVENESS:-3}
REPAIR_GRACE_MS=${REPAIR_GRACE_MS:-2000}
POLL_MS=${POLL_MS:-100}
REPAIR_TIMEOUT_S=${REPAIR_TIMEOUT_S:-600}
DRAIN_TIMEOUT_S=${DRAIN_TIMEOUT_S:-300}
BUILD_DIR=${BUILD_DIR:-build}
BIN=$BUILD_DIR/bin
START_TIMEOUT_S=15
poll_s=$(awk -v ms="$POLL_MS" 'BEGIN { printf "%.3f", ms / 1000 }')

WORK_PREFIX=p2p-repl
# shellcheck source=bench/lib.sh
source bench/lib.sh  # (we are in the repo root)
command -v jq >/dev/null || { echo "bench: jq is required" >&2; exit 1; }
((PEERS >= REPLICAS + 2)) || { echo "bench: need PEERS >= REPLICAS + 2 (one killed, one drained)" >&2; exit 1; }

# True while the process exists and is not a zombie.
running() { [[ -e /proc/$1 ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

p2p() { "$BIN/p2p" "$@"; }

# Prints "endpoint bytes" for every live holder, from `p2p stat NAME --json` of every file.
holder_bytes() {
  local n
  for n in "${names[@]}"; do
    p2p stat "$n" --json | jq -r '.size as $s | .holder_peers[] | "\(.endpoint) \($s)"'
  done | awk '{ b[$1] += $2 } END { for (e in b) print e, b[e] }' | sort -k2,2nr
}

# Prints "name holders" for every file (one LIST request: a consistent snapshot).
holder_counts() { p2p ls --json | jq -r '.[] | "\(.name) \(.holders)"'; }

# Number of files with fewer than $1 holders (files missing from the list count too).
short_files() {
  local want=$1
  holder_counts | awk -v w="$want" -v n="${#names[@]}" '{ seen++; if ($2 < w) short++ } END { print short + (n - seen) }'
}

live_peers() { p2p peers --json | jq '[.[] | select(.draining | not)] | length'; }

# Index (0-based) of the local peer listening on endpoint $1.
peer_index() {
  local i
  for i in "${!peer_eps[@]}"; do [[ ${peer_eps[$i]} == "$1" ]] && { echo "$i"; return 0; }; done
  return 1
}

echo "== p2p-share replication benchmark: $FILES files, ${TOTAL_MB} MiB, $PEERS peers, k=$REPLICAS, $(nproc) cores, work dir $work"
echo "   heartbeat ${HEARTBEAT_MS} ms x liveness $LIVENESS, repair grace ${REPAIR_GRACE_MS} ms, poll ${POLL_MS} ms"
echo "   load: $(uptime | sed 's/.*load average/load average/')"

echo "-- cluster"
start_tracker --heartbeat-ms "$HEARTBEAT_MS" --liveness "$LIVENESS" --repair-grace-ms "$REPAIR_GRACE_MS" \
  --replicas "$REPLICAS"
start_peers "$PEERS" --heartbeat-ms "$HEARTBEAT_MS" --liveness "$LIVENESS"
echo "tracker $tracker, $PEERS peers live"

echo "-- input: $FILES random files, ${TOTAL_MB} MiB in all (sizes 1:2:...:$FILES)"
total_bytes=$((TOTAL_MB * 1024 * 1024))
units=$((FILES * (FILES + 1) / 2))
names=() sizes=() left=$total_bytes
mkdir -p "$work/in" "$work/out"
for ((i = 1; i <= FILES; i++)); do
  if ((i == FILES)); then size=$left; else size=$((total_bytes * i / units)); fi
  left=$((left - size))
  name=$(printf 'repl-%02d.bin' "$i")
  head -c "$size" /dev/urandom >"$work/in/$name"
  names+=("$name") sizes+=("$size")
done

echo "-- put (k=$REPLICAS)"
t0=$(now)
for n in "${names[@]}"; do p2p -q put "$work/in/$n" --name "$n" --replicas "$REPLICAS" >/dev/null; done
put_s=$(since "$t0")
short=$(short_files "$REPLICAS")
((short == 0)) || die "$short files have fewer than $REPLICAS holders after put"
echo "put ${TOTAL_MB} MiB in ${put_s} s, every file on $REPLICAS holders"

# Bytes held by each peer, and the fullest one.
holder_bytes >"$work/held1.txt"
read -r victim_ep victim_bytes <"$work/held1.txt"
victim=$(peer_index "$victim_ep") || die "unknown holder endpoint $victim_ep"
victim_pid=${peer_pids[$victim]}
# Bytes to re-replicate: the sizes of the files the victim holds.
repl_bytes=0 repl_files=0
for n in "${names[@]}"; do
  s=$(p2p stat "$n" --json | jq -r --arg ep "$victim_ep" 'if any(.holder_peers[]; .endpoint == $ep) then .size else empty end')
  [[ -n $s ]] && { repl_bytes=$((repl_bytes + s)); repl_files=$((repl_files + 1)); }
done
((repl_bytes == victim_bytes)) || die "victim bytes mismatch ($repl_bytes vs $victim_bytes)"
echo "bytes held per peer:"
while read -r ep b; do echo "  peer$(($(peer_index "$ep") + 1)) $ep $(mb "$b") MB"; done <"$work/held1.txt"

echo "-- crash: kill -9 peer$((victim + 1)) (pid $victim_pid, $(mb "$victim_bytes") MB in $repl_files files)"
t_kill=$(now)
kill -KILL "$victim_pid"
wait "$victim_pid" 2>/dev/null || true
forget_pid "$victim_pid"
# Holder counts drop only once the tracker declares the peer dead (liveness window).
dead_s=""
deadline=$((SECONDS + REPAIR_TIMEOUT_S))
while :; do
  ((SECONDS < deadline)) || die "peer$((victim + 1)) still live/holding after ${REPAIR_TIMEOUT_S} s"
  if [[ -z $dead_s ]] && ! p2p peers --json | jq -e --arg ep "$victim_ep" 'any(.[]; .endpoint == $ep)' >/dev/null; then
    dead_s=$(since "$t_kill")
  fi
  if [[ -n $dead_s ]]; then
    short=$(short_files "$REPLICAS")
    ((short == 0)) && break
  fi
  sleep "$poll_s"
done
repair_s=$(since "$t_kill")
window_s=$(awk -v h="$HEARTBEAT_MS" -v l="$LIVENESS" -v g="$REPAIR_GRACE_MS" 'BEGIN { printf "%.2f", (h * l + g) / 1000 }')
copy_s=$(awk -v a="$repair_s" -v b="$window_s" 'BEGIN { printf "%.2f", a - b }')
echo "dead seen at ${dead_s} s, all $FILES files back at $REPLICAS holders ${repair_s} s after the kill"

# Drain: make some live peer hold about DRAIN_MB, then SIGTERM the fullest.
drain_want=$((DRAIN_MB * 1024 * 1024))
holder_bytes >"$work/held2.txt"
read -r _ max_bytes <"$work/held2.txt"
extra=0
while ((max_bytes < drain_want * 95 / 100 && extra < 8)); do
  extra=$((extra + 1))
  size=$((drain_want - max_bytes))
  name=$(printf 'repl-extra-%02d.bin' "$extra")
  head -c "$size" /dev/urandom >"$work/in/$name"
  p2p -q put "$work/in/$name" --name "$name" --replicas "$REPLICAS" >/dev/null
  names+=("$name") sizes+=("$size")
  holder_bytes >"$work/held2.txt"
  read -r _ max_bytes <"$work/held2.txt"
done
((extra == 0)) || echo "put $extra extra files so that a peer holds about ${DRAIN_MB} MiB"
short=$(short_files "$REPLICAS")
((short == 0)) || die "$short files under-replicated before the drain"
read -r drain_ep drain_bytes <"$work/held2.txt"
drainer=$(peer_index "$drain_ep") || die "unknown holder endpoint $drain_ep"
drain_pid=${peer_pids[$drainer]}
drain_files=0
for n in "${names[@]}"; do
  p2p stat "$n" --json | jq -e --arg ep "$drain_ep" 'any(.holder_peers[]; .endpoint == $ep)' >/dev/null && drain_files=$((drain_files + 1))
done

echo "-- drain: SIGTERM peer$((drainer + 1)) (pid $drain_pid, $(mb "$drain_bytes") MB in $drain_files files)"
t_term=$(now)
kill -TERM "$drain_pid"
deadline=$((SECONDS + DRAIN_TIMEOUT_S))
while running "$drain_pid"; do
  ((SECONDS < deadline)) || die "peer$((drainer + 1)) did not exit within ${DRAIN_TIMEOUT_S} s of SIGTERM; see $work/peer$((drainer + 1)).log"
  sleep "$poll_s"
done
drain_s=$(since "$t_term")
drain_rc=0
wait "$drain_pid" || drain_rc=$?
forget_pid "$drain_pid"
live=$(live_peers)
want=$((REPLICAS < live ? REPLICAS : live))
short_at_exit=$(short_files "$want")
echo "peer exited with status $drain_rc after ${drain_s} s; $live live peers; files short of $want holders at exit: $short_at_exit"
((drain_rc == 0)) || die "draining peer exited with status $drain_rc"
((short_at_exit == 0)) || die "$short_at_exit files have fewer than $want holders after the drain"

echo "-- verify: get every file from the remaining peers"
t0=$(now)
for n in "${names[@]}"; do
  p2p -q get "$n" -o "$work/out/$n" >/dev/null
  [[ $(sha256sum <"$work/in/$n") == "$(sha256sum <"$work/out/$n")" ]] || die "$n differs from its input!"
  rm -f "$work/out/$n"
done
verify_s=$(since "$t0")
all_bytes=0
for s in "${sizes[@]}"; do all_bytes=$((all_bytes + s)); done
echo "${#names[@]} files ($(mb "$all_bytes") MB) byte-identical (SHA-256), fetched in ${verify_s} s"

echo
echo "== results ($FILES files, ${TOTAL_MB} MiB, $PEERS peers, k=$REPLICAS; MB = 10^6 bytes)"
printf '%-46s %s\n' "put (all files, k=$REPLICAS)" "${put_s} s, $(mb_per_s "$total_bytes" "$put_s") MB/s of file"
printf '%-46s %s\n' "crash: bytes re-replicated" "$(mb "$repl_bytes") MB ($repl_files files)"
printf '%-46s %s\n' "crash: kill -> dead seen by client (poll)" "${dead_s} s"
printf '%-46s %s\n' "crash: kill -> full replication" "${repair_s} s"
printf '%-46s %s\n' "crash: liveness window + repair grace" "${window_s} s"
printf '%-46s %s\n' "crash: repair throughput (excl. window+grace)" "$(mb_per_s "$repl_bytes" "$copy_s") MB/s (over ${copy_s} s)"
printf '%-46s %s\n' "crash: raw throughput (bytes / total s)" "$(mb_per_s "$repl_bytes" "$repair_s") MB/s"
printf '%-46s %s\n' "drain: bytes held by the drained peer" "$(mb "$drain_bytes") MB ($drain_files files)"
printf '%-46s %s\n' "drain: SIGTERM -> exit" "${drain_s} s (status $drain_rc)"
printf '%-46s %s\n' "drain: throughput (bytes held / s)" "$(mb_per_s "$drain_bytes" "$drain_s") MB/s"
printf '%-46s %s\n' "drain: files short of min($REPLICAS, $live) at exit" "$short_at_exit"
printf '%-46s %s\n' "verify: ${#names[@]} files, SHA-256" "identical (${verify_s} s)"
