#!/usr/bin/env bash
# Soak: the load of LoadTests (loopback connections, both ends in one process, concurrent checksummed writers, sizes 0 B
# to 64 KiB) for a given duration. Fails on any lost, repeated, reordered or corrupt frame, a hang, or memory above the
# load test's bounds; prints frames/s, bytes/s and peak memory.
#
#   tests/soak.sh SECONDS [CONNECTIONS (default 200)] [WRITERS PER END (default 2)]
#   tests/soak.sh 600          # ten minutes, 200 connections
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: tests/soak.sh SECONDS [CONNECTIONS] [WRITERS_PER_END]"
seconds="${1:?$usage}"
connections="${2:-200}"
writers="${3:-2}"
for n in "$seconds" "$connections" "$writers"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "$usage (positive integers)" >&2; exit 2; }
done

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export HEADERFRAMING_SOAK_SECONDS="$seconds" HEADERFRAMING_SOAK_CONNECTIONS="$connections" HEADERFRAMING_SOAK_WRITERS="$writers"

dotnet build tests/HeaderFraming.Tests -c Release -nologo -v quiet
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "== soak: ${seconds} s, ${connections} connections, ${writers} writers per end"
set +e
dotnet test tests/HeaderFraming.Tests -c Release --no-build --filter "Category=Soak" \
  --logger "console;verbosity=detailed" >"$log" 2>&1
status=$?
set -e

grep -E '^\s*([0-9,]+ s:|soak:|[0-9]+ connections open)' "$log" | sed 's/^ *//' || true
if [ "$status" -ne 0 ] || ! grep -q 'soak:' "$log"; then
  echo "== soak FAILED" >&2
  grep -vE '^\s+at ' "$log" | tail -40 >&2
  exit 1
fi
echo "== soak passed"
