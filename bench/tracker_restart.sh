#!/usr/bin/env bash
# Benchmark: a tracker indexing peers that hold many files, and restarted under
# them. p2p-bench-announce plays PEERS peers that each hold the same FILES
# files (made-up manifests, k = PEERS, so no file ever needs a copy):
#
#   1. a fresh tracker (no rejoin window, as `scripts/cluster start`); the peers
#      register and announce every file; timed to the complete index (STATUS);
#   2. the tracker is killed (-9) and started again on the same port with its
#      default rejoin window (as `scripts/cluster restart tracker`); the peers
#      notice, rejoin and announce everything again; timed the same way; the
#      peers stay 3 heartbeats more, for the tracker's first plans after safe mode;
#   3. the peers leave one by one, each timed until STATUS no longer counts it
#      and until no file lists it (index.departed_holdings 0): how long the
#      tracker takes to drop a peer's FILES holdings, how many STATUS it
#      answered meanwhile and the slowest of them.
#
# For each it prints the tool's line (time to register, to send, to the
# complete index; orders received), the tracker's peak RSS and CPU time, and
# for the restart the tracker's "safe mode over" line. It fails when any order
# (REPLICATE, DELETE) reached the peers: every file had its k holders, so an
# order means the tracker planned from an index the peers had not finished
# filling. Not part of `make test` or `make bench`.
#
#   bench/tracker_restart.sh                     # 3 peers x 100,000 files
#   FILES=1000000 bench/tracker_restart.sh       # ~10 minutes on 2 cores
#
# Environment: FILES (100000), PEERS (3), HEARTBEAT_MS (1000), LIVENESS (3),
# REPAIR_GRACE_MS (5000, the tracker's default), ROUND_TIMEOUT_S (1800),
# BUILD_DIR (build), TMPDIR, JSON (a file for the tool's --json).
set -euo pipefail

cd "$(dirname "$0")/.."
FILES=${FILES:-100000}
PEERS=${PEERS:-3}
HEARTBEAT_MS=${HEARTBEAT_MS:-1000}
LIVENESS=${LIVENESS:-3}
REPAIR_GRACE_MS=${REPAIR_GRACE_MS:-5000}
ROUND_TIMEOUT_S=${ROUND_TIMEOUT_S:-1800}
BUILD_DIR=${BUILD_DIR:-build}
BIN=$BUILD_DIR/bin
START_TIMEOUT_S=15

WORK_PREFIX=p2p-tracker-restart
NEED_BINS="p2p-tracker p2p-bench-announce"
# shellcheck source=bench/lib.sh
source bench/lib.sh  # (we are in the repo root)

port=$(free_port)
tracker_flags=(--listen "tcp://127.0.0.1:$port" --heartbeat-ms "$HEARTBEAT_MS" --liveness "$LIVENESS"
  --repair-grace-ms "$REPAIR_GRACE_MS")

# run_tracker N [FLAGS...]: tracker number N on $port, logs in $work/trackerN.*.
run_tracker() {
  local n=$1
  shift
  "$BIN/p2p-tracker" "${tracker_flags[@]}" "$@" >"$work/tracker$n.out" 2>"$work/tracker$n.log" </dev/null &
  pids+=($!)
  tracker_pid=$!
  tracker=$(listening "$work/tracker$n.out" "$!")
}

# wait_round R: until the tool printed its line for round R (or exited).
wait_round() {
  local deadline=$((SECONDS + ROUND_TIMEOUT_S + 60))
  until grep -q "^round $1:" "$work/announce.out"; do
    kill -0 "$announce_pid" 2>/dev/null || die "p2p-bench-announce exited before round $1; see $work/announce.log"
    ((SECONDS < deadline)) || die "round $1 did not end"
    sleep 0.2
  done
  grep "^round $1:" "$work/announce.out"
}

tracker_figures() {
  echo "   tracker: peak RSS $(kib_to_mib "$(hwm_kb "$tracker_pid")") MiB," \
    "CPU $(awk -v t="$(cpu_ticks "$tracker_pid")" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }') s"
}

echo "== tracker restart under $PEERS peers x $FILES files (k=$PEERS), heartbeat ${HEARTBEAT_MS} ms x $LIVENESS," \
  "repair grace $REPAIR_GRACE_MS ms, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

run_tracker 1 --rejoin-window-ms 0
"$BIN/p2p-bench-announce" --tracker "$tracker" --peers "$PEERS" --files "$FILES" --rounds 2 \
  --heartbeat-ms "$HEARTBEAT_MS" --liveness "$LIVENESS" --round-timeout-s "$ROUND_TIMEOUT_S" \
  --linger-ms $((3 * HEARTBEAT_MS)) \
  ${JSON:+--json "$JSON"} >"$work/announce.out" 2>"$work/announce.log" </dev/null &
pids+=($!)
announce_pid=$!

echo "-- 1. fresh tracker"
wait_round 1
tracker_figures
# A big announcement after safe mode: the short files' one sort, when replication resumes.
deadline=$((SECONDS + 10))
until grep -q 'to sort the short files' "$work/tracker1.log" || ((SECONDS >= deadline)); do sleep 0.1; done
grep -o '[0-9]* ms to sort the short files' "$work/tracker1.log" | sed 's/^/   tracker: /' ||
  echo "   tracker: short files kept in order throughout (a small announcement)"

echo "-- 2. tracker killed and started again (default rejoin window)"
stop_pid "$tracker_pid"
run_tracker 2
wait_round 2
tracker_figures
# Logged by the tracker's next replication tick after the index is complete.
deadline=$((SECONDS + 10))
until grep -q 'safe mode over' "$work/tracker2.log" || ((SECONDS >= deadline)); do sleep 0.1; done
grep -o 'safe mode over: .*' "$work/tracker2.log" | sed 's/^/   tracker: /' || echo "   tracker: safe mode not over 10 s after the complete index"

echo "-- 3. the peers leave"
rc=0
wait "$announce_pid" || rc=$?
grep '^leave:' "$work/announce.out" | sed 's/^/   /' || true
forget_pid "$announce_pid"
((rc == 0)) || { tail -n 5 "$work/announce.log" >&2; die "orders reached the peers, or a round failed (exit $rc)"; }
echo "ok: no order in either round, every departure seen done"
