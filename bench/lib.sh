# shellcheck shell=bash
# Shared by the bench/ scripts: source it after setting BIN, START_TIMEOUT_S
# and WORK_PREFIX. It checks the binaries, makes the work dir ($work), and
# keeps the pids of the servers the script starts ($pids) so that they, and
# only they, are killed on exit.

for b in p2p-tracker p2p-peer p2p; do
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
