#!/usr/bin/env bash
# Ceilings of this machine, measured in the same run as the figures they bound
# (bench/run): what one TCP stream, one core of SHA-256, one raw ZeroMQ stream
# and one process start can do. Writes $PARTS_DIR/ceilings.tsv. (The tracker's
# ceiling, ZeroMQ round trips through an echo ROUTER, is measured by p2p.sh, in
# turns with the tracker runs.)
#
#   iperf3_mb_s      iperf3 -c 127.0.0.1 -t $IPERF_S, 1 stream (end.sum_received)
#   sha256_mb_s      openssl speed -evp sha256 -bytes 1048576 (1 core, SHA-NI)
#   zmq_router_mb_s  p2p-bench-zmq-stream --pattern router: a get's shape (peer ROUTER -> client DEALER)
#   zmq_dealer_mb_s  p2p-bench-zmq-stream --pattern dealer: a put's shape (client DEALER -> peer ROUTER)
#   disk_write_mb_s  dd 1 GiB with oflag=direct conv=fdatasync into TMPDIR (where the peers' data dirs
#                    are; O_DIRECT, as chunks are written);
#                    disk_write_k3_mb_s is a third of it (the put's ceiling until 2026-12-07)
#   disk_write_3x_mb_s  3 such dd at once (a k=3 put's 3 peers on one disk): 1 GiB / wall, the
#                    ceiling of a put of 1 GiB at k=3
#   proc_start_ms    whole-process time of `p2p --help` (exec, dynamic linking, exit), p50
#
# Environment: RUNS (3), IPERF_S (3), ZMQ_MB (1024), BUILD_DIR (build), PARTS_DIR, TMPDIR.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
IPERF_S=${IPERF_S:-3}
ZMQ_MB=${ZMQ_MB:-1024}
BUILD_DIR=${BUILD_DIR:-build}
BIN=$BUILD_DIR/bin
START_TIMEOUT_S=15
WORK_PREFIX=p2p-bench-ceil
NEED_BINS="p2p p2p-bench-zmq-stream"
# shellcheck source=bench/lib.sh
source bench/lib.sh
part_begin ceilings

echo "== ceilings ($RUNS runs each; MB = 10^6 B)" >&2

if command -v iperf3 >/dev/null; then
  say "iperf3 loopback, 1 stream, ${IPERF_S} s"
  runs=()
  for ((r = 1; r <= RUNS; r++)); do
    # A fresh one-test server each attempt; an attempt that reports no
    # receiver figure (server not up yet, port taken meanwhile) is retried.
    rate=""
    for _ in $(seq 20); do
      port=$(free_port)
      iperf3 -s -1 -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
      ipid=$!
      pids+=("$ipid")
      for _ in $(seq 50); do ss -Htln "sport = :$port" | grep -q . && break; sleep 0.05; done
      iperf3 -c 127.0.0.1 -p "$port" -t "$IPERF_S" -J >"$work/iperf.json" 2>/dev/null || true
      stop_pid "$ipid"
      rate=$(jq -e '.end.sum_received.bits_per_second / 8 / 1e6 | . * 10 | round / 10' "$work/iperf.json" 2>/dev/null) && break
      rate=""
    done
    [[ -n $rate ]] || die "iperf3 gave no figure: $(jq -r '.error // empty' "$work/iperf.json" 2>/dev/null)"
    runs+=("$rate")
  done
  emit iperf3_mb_s "$(median "${runs[@]}")" MB/s "$(joined "${runs[@]}")" "iperf3 TCP 127.0.0.1, 1 stream"
else
  echo "bench: iperf3 not installed (make bench-deps); no TCP ceiling" >&2
fi

if command -v openssl >/dev/null; then
  say "OpenSSL SHA-256, 1 MiB blocks, 1 core"
  runs=()
  for ((r = 1; r <= RUNS; r++)); do
    # The last column is k (1000 B) per second at the one block size asked for.
    runs+=("$(openssl speed -evp sha256 -bytes 1048576 -seconds 2 2>/dev/null |
      awk 'tolower($1) ~ /^sha256/ { v = $NF; sub(/k$/, "", v); printf "%.1f", v / 1000 }')")
  done
  emit sha256_mb_s "$(median "${runs[@]}")" MB/s "$(joined "${runs[@]}")" "openssl speed -evp sha256, 1 MiB blocks"
else
  echo "bench: openssl not installed; no SHA-256 ceiling" >&2
fi

say "disk write: dd 1 GiB, bs=1M, oflag=direct conv=fdatasync, in TMPDIR"
runs=()
for ((r = 1; r <= RUNS; r++)); do
  t0=$(now)
  dd if=/dev/zero of="$work/dd.bin" bs=1M count=1024 oflag=direct conv=fdatasync status=none
  runs+=("$(mb_per_s $((1 << 30)) "$(since "$t0")")")
  rm -f "$work/dd.bin"
done
disk=$(median "${runs[@]}")
emit disk_write_mb_s "$disk" MB/s "$(joined "${runs[@]}")" "dd bs=1M count=1024 oflag=direct conv=fdatasync"
# A put at k=3 writes every byte three times to this one disk (3 peers, one file system).
emit disk_write_k3_mb_s "$(awk -v d="$disk" 'BEGIN { printf "%.1f", d / 3 }')" MB/s "" "disk write / 3: the bound of a k=3 put on one disk"

# What a k=3 put of 1 GiB makes this disk do: 3 writers (its 3 peers) at once,
# 1 GiB each. A virtual disk can serve several streams faster than one (here
# 1.2-1.6x of one stream's rate in total), so a third of dd understates it.
say "disk write, 3 at once: 3 x dd 1 GiB, bs=1M, oflag=direct conv=fdatasync, in TMPDIR"
runs=()
for ((r = 1; r <= RUNS; r++)); do
  t0=$(now)
  pids=()
  for w in 1 2 3; do
    dd if=/dev/zero of="$work/dd$w.bin" bs=1M count=1024 oflag=direct conv=fdatasync status=none &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  runs+=("$(mb_per_s $((1 << 30)) "$(since "$t0")")")
  rm -f "$work"/dd[123].bin
done
emit disk_write_3x_mb_s "$(median "${runs[@]}")" MB/s "$(joined "${runs[@]}")" \
  "3 x dd 1 GiB at once: 1 GiB / wall, the bound of a k=3 put of 1 GiB on one disk"

for pattern in router dealer; do
  say "raw ZeroMQ $pattern stream, ${ZMQ_MB} MiB in 1 MiB messages"
  runs=()
  for ((r = 1; r <= RUNS; r++)); do
    runs+=("$("$BIN/p2p-bench-zmq-stream" --pattern "$pattern" --bytes $((ZMQ_MB << 20)) --json | jq '.mb_per_s')")
  done
  emit "zmq_${pattern}_mb_s" "$(median "${runs[@]}")" MB/s "$(joined "${runs[@]}")" "p2p-bench-zmq-stream --pattern $pattern"
done

say "process start: p2p --help, 50 runs"
for _ in $(seq 50); do
  t0=$EPOCHREALTIME
  "$BIN/p2p" --help >/dev/null
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'
done >"$work/start.txt"
emit proc_start_ms "$(percentile 50 <"$work/start.txt")" ms "" "whole process of p2p --help, p50 of 50"
