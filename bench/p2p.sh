#!/usr/bin/env bash
# p2p-share's figures, on a cluster of its own (tracker + 3 peers on
# 127.0.0.1, OS-chosen ports, data dirs in a temp dir). Writes
# $PARTS_DIR/p2p.tsv; bench/run puts them beside the ceilings and BitTorrent.
#
#   put_s, put_mb_s          `p2p put` of a SIZE_MB random file, k=3; RUNS files (each new content)
#   get3_first_mb_s          the first `p2p get` of that file from its 3 holders, right after the put
#                            (this VM's first touch of page cache makes it slower: its own figure)
#   get3_mb_s                median of the RUNS gets after it
#   get1_first_mb_s, get1_mb_s   the same for another file put with --replicas 1 (1 holder)
#   disk_get3_mb_s, disk_get1_mb_s   the get's disk work alone on the same chunks, run right before
#                            each of the RUNS gets (p2p-bench-disk-get): the ceiling of those gets
#   get4g_mb_s               one get of a BIG_MB file put with --replicas 1
#   rss_client_*_mib         the client's peak RSS (/usr/bin/time -v), largest over the runs
#   rss_peers_*_mib          largest peak RSS (VmHWM, reset before each step) of the peers
#   rss_peers_*_added_mib    largest rise of a peer's peak above its RSS when the get began:
#                            the peers live through every step, and what their allocators
#                            kept from an earlier one (a k=3 put) can be a later get's peak
#   files4k_per_s            p2p-load --clients 1 --files SMALL_FILES --sizes 4KiB:1 --each-once: gets/s
#                            (median of RUNS runs, each on SMALL_FILES new files)
#   tracker_req_s, tracker_p50_ms, tracker_p99_ms   (medians of RUNS runs)
#                            p2p-bench-tracker-load --clients TRACKER_CLIENTS (LOCATE + SEARCH,
#                            ZMTP clients on one epoll thread: the tool costs little), against the
#                            index the steps above filled; tracker_cpu_us_per_req is the tracker's
#                            CPU time (all its threads) per request in that run
#   tracker_zmq_req_s, tracker_zmq_p50_ms, tracker_zmq_p99_ms   the same with --wire zmq: libzmq DEALERs
#   zmq_echo_req_s, zmq_echo_zmq_req_s   the tracker's ceiling: the same load tool and clients
#                            (--echo --wire zmtp / zmq) against p2p-bench-zmq-echo, a ROUTER that
#                            sends every message back and does nothing else; RUNS runs each, every
#                            one right before a tracker run, so that the two see the same host
#   get1k_p50_ms, get1k_p99_ms   whole-process time of `p2p get` of a 1 KiB file, GET1K_RUNS runs
#   puts4k_per_s, puts4k_p99_ms   p2p-load --clients PUT_CLIENTS --mix put=1 --sizes 4KiB:1 for PUT_S s,
#                            k=3, no retries: puts whose write pipelines cross the same 3 peers at once
#                            (measured last: its files do not grow the index the tracker steps search)
# Every get is checked against its input's SHA-256.
#
# Environment: SIZE_MB (1024), BIG_MB (4096, 0 skips), RUNS (3), SMALL_FILES (1000),
# TRACKER_CLIENTS (64), TRACKER_S (5), GET1K_RUNS (50), PUT_CLIENTS (8), PUT_S (3), BUILD_DIR (build),
# PARTS_DIR, TMPDIR.
set -euo pipefail

cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1024}
BIG_MB=${BIG_MB:-4096}
RUNS=${RUNS:-3}
SMALL_FILES=${SMALL_FILES:-1000}
TRACKER_CLIENTS=${TRACKER_CLIENTS:-64}
TRACKER_S=${TRACKER_S:-5}
GET1K_RUNS=${GET1K_RUNS:-50}
PUT_CLIENTS=${PUT_CLIENTS:-8}
PUT_S=${PUT_S:-3}
BUILD_DIR=${BUILD_DIR:-build}
BIN=$BUILD_DIR/bin
START_TIMEOUT_S=15
WORK_PREFIX=p2p-bench
NEED_BINS="p2p-tracker p2p-peer p2p p2p-load p2p-bench-tracker-load p2p-bench-zmq-echo p2p-bench-disk-get"
# shellcheck source=bench/lib.sh
source bench/lib.sh
part_begin p2p
size=$((SIZE_MB << 20))

echo "== p2p-share: ${SIZE_MB} MiB files, 3 peers, $RUNS runs, $(nproc) cores, work dir $work" >&2
start_tracker
start_peers 3
echo "tracker $tracker, 3 peers live" >&2

# random_file PATH MIB
random_file() { head -c "$(($2 << 20))" /dev/urandom >"$1"; }

# put_timed FILE NAME K: sets ELAPSED, RSS_KB, PEERS_KB (largest peer peak during it).
# Each timed step starts with no dirty pages from the one before: otherwise the
# kernel's writeback of the previous step's gigabytes throttles this step's
# writes (balance_dirty_pages), and it is charged for them.
put_timed() {
  sync
  reset_hwms "${peer_pids[@]}"
  timed "$BIN/p2p" -q put "$1" --name "$2" --replicas "$3"
  PEERS_KB=$(max_hwm_kb "${peer_pids[@]}")
}

# get_timed NAME SHA256: one get into a new file, checked; sets ELAPSED, RSS_KB, PEERS_KB
# and PEERS_ADDED_KB (largest rise of a peer's peak above its RSS at the start).
get_timed() {
  local out=$work/output.bin
  rm -f "$out"
  sync
  reset_hwms "${peer_pids[@]}"
  timed "$BIN/p2p" -q get "$1" -o "$out"
  PEERS_KB=$(max_hwm_kb "${peer_pids[@]}")
  PEERS_ADDED_KB=$(max_added_kb "${peer_pids[@]}")
  [[ $(sha256_of "$out") == "$2" ]] || die "get of $1: output differs from input!"
  rm -f "$out"
}

# disk_get NAME: the get's disk work alone on the same chunks (p2p-bench-disk-get); prints MB/s,
# fails when the tool does (call it as `x=$(disk_get N) || die`: a substitution's status is lost
# inside an array assignment).
disk_get() {
  local dirs=() i mb
  for ((i = 1; i <= ${#peer_pids[@]}; i++)); do dirs+=(--data "$work/peer$i"); done
  rm -f "$work/disk.bin"
  sync
  mb=$("$BIN/p2p-bench-disk-get" "${dirs[@]}" --out "$work/disk.bin" --json "$1" | jq -e '.mb_per_s') || return 1
  rm -f "$work/disk.bin"
  echo "$mb"
}

# get_series NAME SHA256 PREFIX: the first get, then RUNS more, each of those
# right after the same disk work alone (disk_get); emits PREFIX_first_mb_s,
# PREFIX_mb_s (median, with the runs), disk_PREFIX_mb_s and the peak RSS figures.
get_series() {
  local name=$1 want=$2 prefix=$3 r mb times=() rates=() disk=() client_kb=0 peers_kb=0 added_kb=0
  for ((r = 0; r <= RUNS; r++)); do
    if ((r > 0)); then
      mb=$(disk_get "$name") || die "p2p-bench-disk-get $name failed"
      disk+=("$mb")
    fi
    get_timed "$name" "$want"
    echo "   get $name run $r: $ELAPSED s, client $((RSS_KB / 1024)) MiB," \
      "peers $((PEERS_KB / 1024)) MiB (+$((PEERS_ADDED_KB / 1024)) MiB in the get)" >&2
    ((RSS_KB > client_kb)) && client_kb=$RSS_KB
    ((PEERS_KB > peers_kb)) && peers_kb=$PEERS_KB
    ((PEERS_ADDED_KB > added_kb)) && added_kb=$PEERS_ADDED_KB
    if ((r == 0)); then
      emit "${prefix}_first_mb_s" "$(mb_per_s "$size" "$ELAPSED")" MB/s "" "first get after the put, $ELAPSED s"
    else
      times+=("$ELAPSED")
      rates+=("$(mb_per_s "$size" "$ELAPSED")")
    fi
  done
  emit "${prefix}_s" "$(median "${times[@]}")" s "$(joined "${times[@]}")"
  emit "${prefix}_mb_s" "$(median "${rates[@]}")" MB/s "$(joined "${rates[@]}")" "median of $RUNS gets after the first"
  emit "disk_${prefix}_mb_s" "$(median "${disk[@]}")" MB/s "$(joined "${disk[@]}")" \
    "p2p-bench-disk-get: the same chunks read (O_DIRECT) and written, no network or hashing"
  emit "rss_client_${prefix}_mib" "$(kib_to_mib "$client_kb")" MiB "" "largest of $((RUNS + 1)) gets"
  emit "rss_peers_${prefix}_mib" "$(kib_to_mib "$peers_kb")" MiB "" "largest peer VmHWM during a get"
  emit "rss_peers_${prefix}_added_mib" "$(kib_to_mib "$added_kb")" MiB "" \
    "largest rise of a peer's VmHWM above its RSS when the get started"
}

emit size_bytes "$size" B

say "put: $RUNS random files of ${SIZE_MB} MiB, k=3"
times=() rates=() client_kb=0 peers_kb=0
for ((r = 1; r <= RUNS; r++)); do
  random_file "$work/put$r.bin" "$SIZE_MB"
  ((r == 1)) && want3=$(sha256_of "$work/put1.bin")
  put_timed "$work/put$r.bin" "put$r.bin" 3
  echo "   put run $r: $ELAPSED s, client $((RSS_KB / 1024)) MiB, peers $((PEERS_KB / 1024)) MiB" >&2
  rm -f "$work/put$r.bin"
  times+=("$ELAPSED")
  rates+=("$(mb_per_s "$size" "$ELAPSED")")
  ((RSS_KB > client_kb)) && client_kb=$RSS_KB
  ((PEERS_KB > peers_kb)) && peers_kb=$PEERS_KB
done
emit put_s "$(median "${times[@]}")" s "$(joined "${times[@]}")" "median of $RUNS puts, k=3"
emit put_mb_s "$(median "${rates[@]}")" MB/s "$(joined "${rates[@]}")"
emit rss_client_put_mib "$(kib_to_mib "$client_kb")" MiB
emit rss_peers_put_mib "$(kib_to_mib "$peers_kb")" MiB

say "get from 3 holders: put1.bin, 1 + $RUNS runs"
get_series put1.bin "$want3" get3

say "get from 1 holder: a new ${SIZE_MB} MiB file put with --replicas 1, 1 + $RUNS runs"
random_file "$work/one.bin" "$SIZE_MB"
want1=$(sha256_of "$work/one.bin")
put_timed "$work/one.bin" one.bin 1
rm -f "$work/one.bin"
get_series one.bin "$want1" get1

if ((BIG_MB > 0)); then
  say "get of a ${BIG_MB} MiB file from 1 holder (put with --replicas 1): memory must not grow with size"
  random_file "$work/big.bin" "$BIG_MB"
  wantb=$(sha256_of "$work/big.bin")
  put_timed "$work/big.bin" big.bin 1
  rm -f "$work/big.bin"
  get_timed big.bin "$wantb"
  echo "   get big.bin: $ELAPSED s, client $((RSS_KB / 1024)) MiB," \
    "peers $((PEERS_KB / 1024)) MiB (+$((PEERS_ADDED_KB / 1024)) MiB in the get)" >&2
  emit big_bytes "$((BIG_MB << 20))" B
  emit get4g_mb_s "$(mb_per_s "$((BIG_MB << 20))" "$ELAPSED")" MB/s "" "one get of ${BIG_MB} MiB, 1 holder"
  emit rss_client_get4g_mib "$(kib_to_mib "$RSS_KB")" MiB
  emit rss_peers_get4g_mib "$(kib_to_mib "$PEERS_KB")" MiB
  emit rss_peers_get4g_added_mib "$(kib_to_mib "$PEERS_ADDED_KB")" MiB
fi

# small_files_run: one p2p-load run that seeds SMALL_FILES new 4 KiB files, then gets each once
# from one client; appends its gets/s, p50 and p99 to small_rates, small_p50s, small_p99s.
small_rates=() small_p50s=() small_p99s=()
small_files_run() {
  sync  # like every timed step: no writeback of the steps before (the 4 GiB get) in its CPU
  "$BIN/p2p-load" --clients 1 --files "$SMALL_FILES" --sizes 4KiB:1 --each-once --json "$work/load.json" \
    >"$work/load.txt" 2>"$work/load.log" || { cat "$work/load.txt" "$work/load.log" >&2; die "p2p-load failed"; }
  small_rates+=("$(jq '.ops.get.ops_per_s | . * 10 | round / 10' "$work/load.json")")
  small_p50s+=("$(jq '.ops.get.p50_ms' "$work/load.json")")
  small_p99s+=("$(jq '.ops.get.p99_ms' "$work/load.json")")
  echo "   run ${#small_rates[@]}: ${small_rates[-1]} files/s, p50 ${small_p50s[-1]} ms" >&2
}

# One run lasts ~0.5 s, so a single one is at the mercy of the host's noise: the figure is the
# median of RUNS. The first run is here, so that the tracker steps search the ~1,000 names it
# binds (as before); the others come after them, so that the index they search does not grow.
say "$SMALL_FILES files of 4 KiB, got one after another by one p2p-load client: run 1 of $RUNS"
small_files_run

# load_run NAME ARGS...: one run of p2p-bench-tracker-load ARGS (TRACKER_CLIENTS clients, TRACKER_S
# seconds) after a sync, like every timed step (no writeback of the steps before in its CPU);
# its figures in $work/NAME.json, its line on stderr.
load_run() {
  local name=$1
  shift
  sync
  "$BIN/p2p-bench-tracker-load" "$@" --clients "$TRACKER_CLIENTS" --duration "$TRACKER_S" \
    --json "$work/$name.json" >"$work/$name.txt" 2>&1 ||
    { cat "$work/$name.txt" >&2; die "p2p-bench-tracker-load $* failed"; }
  echo "   $name: $(cat "$work/$name.txt")" >&2
}

# tracker_load WIRE PREFIX ECHO_KEY: RUNS runs of p2p-bench-tracker-load, each right after a run
# against the echo ROUTER; emits PREFIX_req_s, PREFIX_p50_ms and PREFIX_p99_ms (medians, with the
# runs), ECHO_KEY (the echo's median) and, for the ZMTP clients, the tracker's CPU per request.
tracker_load() {
  local wire=$1 prefix=$2 echo_key=$3 r rates=() echoes=() p50s=() p99s=() ticks=0 answered=0 t0
  for ((r = 1; r <= RUNS; r++)); do
    load_run echo --echo --wire "$wire" --tracker "$echo_ep"
    echoes+=("$(jq '.req_per_s | round' "$work/echo.json")")
    t0=$(cpu_ticks "$tracker_pid")
    load_run tracker --wire "$wire"
    ticks=$((ticks + $(cpu_ticks "$tracker_pid") - t0))
    answered=$((answered + $(jq '.answered' "$work/tracker.json")))
    rates+=("$(jq '.req_per_s | round' "$work/tracker.json")")
    p50s+=("$(jq '.p50_ms' "$work/tracker.json")")
    p99s+=("$(jq '.p99_ms' "$work/tracker.json")")
  done
  emit "${prefix}_req_s" "$(median "${rates[@]}")" req/s "$(joined "${rates[@]}")" "median of $RUNS runs, --wire $wire"
  emit "$echo_key" "$(median "${echoes[@]}")" req/s "$(joined "${echoes[@]}")" \
    "p2p-bench-tracker-load --echo --wire $wire, each run right before a tracker run"
  emit "${prefix}_p50_ms" "$(median "${p50s[@]}")" ms "$(joined "${p50s[@]}")"
  emit "${prefix}_p99_ms" "$(median "${p99s[@]}")" ms "$(joined "${p99s[@]}")"
  # CPU from before each run to after it, over every request answered (warm-ups included).
  [[ $wire == zmtp ]] && emit tracker_cpu_us_per_req \
    "$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="$answered" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')" us \
    "" "tracker CPU (all threads) per request: 1e6 / this = req/s one tracker core could serve"
  return 0
}

"$BIN/p2p-bench-zmq-echo" >"$work/echo.out" 2>"$work/echo.log" </dev/null &
echo_pid=$!
pids+=("$echo_pid")
echo_ep=$(listening "$work/echo.out" "$echo_pid")
say "tracker: $TRACKER_CLIENTS concurrent ZMTP clients, LOCATE + SEARCH, $RUNS x ${TRACKER_S} s, each after as long against an echo ROUTER"
tracker_load zmtp tracker zmq_echo_req_s
say "tracker: $TRACKER_CLIENTS libzmq DEALER clients (as our client library connects), $RUNS x ${TRACKER_S} s, the same"
tracker_load zmq tracker_zmq zmq_echo_zmq_req_s
stop_pid "$echo_pid"

say "whole-process p2p get of a 1 KiB file, $GET1K_RUNS runs"
head -c 1024 /dev/urandom >"$work/tiny.bin"
want=$(sha256_of "$work/tiny.bin")
"$BIN/p2p" -q put "$work/tiny.bin" --name tiny.bin --replicas 3 >/dev/null
sync
for ((r = 1; r <= GET1K_RUNS; r++)); do
  t0=$EPOCHREALTIME
  "$BIN/p2p" -q get tiny.bin -o "$work/tiny.out" --force >/dev/null
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'
done >"$work/tiny.txt"
[[ $(sha256_of "$work/tiny.out") == "$want" ]] || die "get of tiny.bin: output differs from input!"
emit get1k_p50_ms "$(percentile 50 <"$work/tiny.txt")" ms "" "$GET1K_RUNS runs"
emit get1k_p99_ms "$(percentile 99 <"$work/tiny.txt")" ms "" "$GET1K_RUNS runs"

say "$SMALL_FILES files of 4 KiB, got one after another by one p2p-load client: runs 2-$RUNS"
for ((r = 2; r <= RUNS; r++)); do small_files_run; done
emit files4k_per_s "$(median "${small_rates[@]}")" files/s "$(joined "${small_rates[@]}")" \
  "median of $RUNS runs of $SMALL_FILES gets; p50 $(median "${small_p50s[@]}") ms, p99 $(median "${small_p99s[@]}") ms"

say "puts of 4 KiB at k=3 by $PUT_CLIENTS p2p-load clients at once, ${PUT_S} s, no retries"
"$BIN/p2p-load" --clients "$PUT_CLIENTS" --files 0 --sizes 4KiB:1 --mix put=1 --duration "$PUT_S" --retry-ms 0 \
  --json "$work/puts.json" >"$work/puts.txt" 2>"$work/puts.log" ||
  { cat "$work/puts.txt" "$work/puts.log" >&2; die "p2p-load (concurrent puts) failed"; }
emit puts4k_per_s "$(jq '.ops.put.ops_per_s | round' "$work/puts.json")" puts/s "" \
  "$(jq -r '"\(.ops.put.count) puts by '"$PUT_CLIENTS"' clients, p50 \(.ops.put.p50_ms) ms"' "$work/puts.json")"
emit puts4k_p99_ms "$(jq '.ops.put.p99_ms' "$work/puts.json")" ms "" "max $(jq '.ops.put.max_ms' "$work/puts.json") ms"
