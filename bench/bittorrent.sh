#!/usr/bin/env bash
# A real BitTorrent swarm doing p2p-share's get job on 127.0.0.1, set up as in
# /work/shared/notes/ceilings.md section 2: Debian's opentracker (whitelist
# only, chrooted, as `nobody`), mktorrent -l 20 (1 MiB pieces, like our
# chunks), aria2c seeders that check the payload first, and one leecher into
# an empty dir, timed start -> exit under /usr/bin/time -v. Each run has a
# fresh tracker and fresh seeders, which must all be listed complete in the
# tracker's scrape (then 1 s) before the leecher starts. The leecher's file
# must have the payload's SHA-256. Writes $PARTS_DIR/bittorrent.tsv:
#
#   bt1_s, bt1_mb_s   1 seeder  -> 1 leecher, median of BT_RUNS (with the runs)
#   bt3_s, bt3_mb_s   3 seeders -> 1 leecher
#   rss_bt_leecher_mib  the leecher's peak RSS, largest over the runs
#
# Without opentracker, aria2c or mktorrent (make bench-deps) it says so and
# writes only `bt_skipped`.
#
# Environment: SIZE_MB (1024), BT_RUNS (RUNS, 3), LEECH_TIMEOUT_S (600), TMPDIR, PARTS_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1024}
BT_RUNS=${BT_RUNS:-${RUNS:-3}}
BIN=${BUILD_DIR:-build}/bin
START_TIMEOUT_S=30
LEECH_TIMEOUT_S=${LEECH_TIMEOUT_S:-600}
WORK_PREFIX=p2p-bench-bt
NEED_BINS=""
# shellcheck source=bench/lib.sh
source bench/lib.sh
part_begin bittorrent

missing=()
for tool in opentracker aria2c mktorrent curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  echo "bench: BitTorrent swarm skipped: ${missing[*]} not installed (make bench-deps)" >&2
  emit bt_skipped 1 - "" "missing ${missing[*]}"
  exit 0
fi
size=$((SIZE_MB << 20))
emit bt_size_bytes "$size" B

echo "== BitTorrent swarm (opentracker + aria2c), ${SIZE_MB} MiB, $BT_RUNS runs each, work dir $work" >&2
say "payload and torrent (1 MiB pieces)"
head -c "$size" /dev/urandom >"$work/payload.bin"
want=$(sha256_of "$work/payload.bin")
# The announce URL in the torrent is a placeholder: each run starts its tracker
# on a port of its own and tells every aria2c (--bt-exclude-tracker, --bt-tracker).
# The info hash, which the whitelist holds, does not cover the announce URL.
mktorrent -l 20 -a "http://127.0.0.1:1/announce" -o "$work/bench.torrent" "$work/payload.bin" >/dev/null
info_hash=$(aria2c -S "$work/bench.torrent" | awk '/^Info Hash:/ { print $3 }')
[[ $info_hash =~ ^[0-9a-f]{40}$ ]] || die "no info hash from aria2c -S"

# opentracker chroots to its rootdir and drops to `nobody`: the whitelist path
# is relative to the rootdir, which nobody must be able to read.
mkdir -p "$work/tracker"
echo "$info_hash" >"$work/tracker/whitelist.txt"
chmod 755 "$work/tracker" && chmod 644 "$work/tracker/whitelist.txt"

# Every aria2c: no DHT, LPD or PEX (the tracker is the only way peers meet),
# no rate limits, aria2's other defaults (16 MiB disk cache, no mmap).
aria_flags=(--enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false
  --bt-tracker-interval=2 --max-upload-limit=0 --max-overall-upload-limit=0 --max-download-limit=0
  --max-overall-download-limit=0 --bt-max-peers=55 --file-allocation=none --console-log-level=warn
  --summary-interval=0 --log-level=notice)

# start_tracker: starts opentracker on a free port; sets TPID, ANNOUNCE and
# SCRAPE_URL. free_port only sees the ports in use when it is called, so a
# bind that loses the race (opentracker exits "Address already in use") is
# tried again on another port, up to 5 times.
start_tracker() {
  local port attempt deadline
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    cat >"$work/opentracker.conf" <<EOF
listen.tcp 127.0.0.1:$port
listen.udp 127.0.0.1:$port
access.whitelist /whitelist.txt
tracker.rootdir $work/tracker
tracker.user nobody
EOF
    opentracker -f "$work/opentracker.conf" >"$work/opentracker.log" 2>&1 </dev/null &
    TPID=$!
    pids+=("$TPID")
    ANNOUNCE="http://127.0.0.1:$port/announce"
    SCRAPE_URL="http://127.0.0.1:$port/scrape?info_hash=$(sed 's/../%&/g' <<<"$info_hash")"
    deadline=$((SECONDS + START_TIMEOUT_S))
    while ((SECONDS < deadline)); do
      curl -s --max-time 2 -o /dev/null "$SCRAPE_URL" && return 0
      kill -0 "$TPID" 2>/dev/null || break
      sleep 0.1
    done
    stop_pid "$TPID"
    grep -q "Address already in use" "$work/opentracker.log" ||
      die "opentracker did not start on port $port: $(cat "$work/opentracker.log")"
    echo "   opentracker: port $port taken meanwhile (attempt $attempt), trying another" >&2
  done
  die "opentracker found no free port in 5 attempts"
}

# Seeders listed complete in the tracker's scrape (bencoded: ...8:completeiNe...).
complete() {
  local n
  n=$(curl -s --max-time 2 "$SCRAPE_URL" | grep -ao '8:completei[0-9]*e' | head -n1 | sed 's/^8:completei//; s/e$//') || true
  echo "${n:-0}"
}

# swarm_run SEEDERS RUN: sets ELAPSED and RSS_KB of the leecher.
swarm_run() {
  local seeders=$1 run=$2 s spids=() dir deadline run_flags
  start_tracker
  run_flags=("${aria_flags[@]}" --bt-exclude-tracker='*' --bt-tracker="$ANNOUNCE")
  for ((s = 1; s <= seeders; s++)); do
    dir=$work/seed$s
    mkdir -p "$dir"
    ln -f "$work/payload.bin" "$dir/payload.bin"
    aria2c "${run_flags[@]}" --dir="$dir" --check-integrity=true --seed-ratio=0.0 --listen-port="$(free_port)" \
      --log="$work/seed$s-$seeders-$run.log" "$work/bench.torrent" >/dev/null 2>&1 </dev/null &
    pids+=($!)
    spids+=($!)
  done
  deadline=$((SECONDS + START_TIMEOUT_S))
  until (($(complete) >= seeders)); do
    ((SECONDS < deadline)) || die "seeders not complete at the tracker after ${START_TIMEOUT_S} s (see $work)"
    kill -0 "$TPID" 2>/dev/null || die "opentracker exited: $(cat "$work/opentracker.log")"
    sleep 0.2
  done
  sleep 1
  rm -rf "$work/leech" && mkdir -p "$work/leech"
  sync
  timed timeout "$LEECH_TIMEOUT_S" aria2c "${run_flags[@]}" --dir="$work/leech" --seed-time=0 --listen-port="$(free_port)" \
    --log="$work/leech-$seeders-$run.log" "$work/bench.torrent"
  [[ $(sha256_of "$work/leech/payload.bin") == "$want" ]] || die "leecher's file differs from the payload!"
  rm -rf "$work/leech"
  for s in "${spids[@]}" "$TPID"; do stop_pid "$s"; done
}

rss_kb=0
for seeders in 1 3; do
  say "$seeders seeder(s) -> 1 leecher"
  times=() rates=()
  for ((run = 1; run <= BT_RUNS; run++)); do
    swarm_run "$seeders" "$run"
    echo "   run $run: $ELAPSED s, leecher $((RSS_KB / 1024)) MiB" >&2
    times+=("$ELAPSED")
    rates+=("$(mb_per_s "$size" "$ELAPSED")")
    ((RSS_KB > rss_kb)) && rss_kb=$RSS_KB
  done
  emit "bt${seeders}_s" "$(median "${times[@]}")" s "$(joined "${times[@]}")" "leecher start -> exit"
  emit "bt${seeders}_mb_s" "$(median "${rates[@]}")" MB/s "$(joined "${rates[@]}")" "$seeders seeder(s) -> 1 leecher"
done
emit rss_bt_leecher_mib "$(kib_to_mib "$rss_kb")" MiB "" "aria2c leecher, largest over the runs"
