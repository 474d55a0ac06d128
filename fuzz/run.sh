#!/usr/bin/env bash
# Runs a bounded SharpFuzz + AFL++ campaign on every fuzz target and fails if any crash or hang was found.
#
#   fuzz/run.sh <seconds-per-target> [target...]      targets: codecs reader (default: both)
#
# Installs no system package: it checks that afl-fuzz and dotnet exist (apt-get install -y afl++), installs the
# sharpfuzz instrumenter (SharpFuzz.CommandLine 2.3.0) as a dotnet tool into fuzz/out/tools, publishes the harness to
# fuzz/out/bin (and an uninstrumented copy, fuzz/out/replay, for replaying inputs), instruments only the published HeaderFraming.dll, replays the seeds and fuzz/regressions/, then runs
# afl-fuzz for the given number of seconds per target. Findings: fuzz/out/<target>/default/{crashes,hangs}/.
set -euo pipefail

usage() { echo "usage: fuzz/run.sh <seconds-per-target> [codecs|reader ...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
seconds=$1
shift
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || usage
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(codecs reader)
for t in "${targets[@]}"; do
  case "$t" in codecs|reader) ;; *) echo "unknown target: $t" >&2; usage ;; esac
done

cd "$(dirname "$0")"
fuzz_dir=$(pwd)
out="$fuzz_dir/out"
bin="$out/bin"
tools="$out/tools"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

missing=0
for cmd in afl-fuzz dotnet; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "fuzz: '$cmd' is not installed (afl-fuzz: apt-get install -y afl++)" >&2
    missing=1
  fi
done
[ "$missing" = 0 ] || exit 2

if [ ! -x "$tools/sharpfuzz" ] || ! dotnet tool list --tool-path "$tools" | grep -qi 'sharpfuzz.commandline *2\.3\.0'; then
  echo "== fuzz: installing sharpfuzz 2.3.0 into $tools"
  rm -rf "$tools"
  dotnet tool install --tool-path "$tools" SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi

# A fresh publish overwrites the instrumented DLL, so instrumenting exactly once below is always right.
echo "== fuzz: publish (Release, warnings as errors)"
rm -rf "$bin"
dotnet publish "$fuzz_dir/HeaderFraming.Fuzz/HeaderFraming.Fuzz.csproj" -c Release -o "$bin" -warnaserror -nologo -v quiet
# Instrumented code writes to AFL's shared memory and crashes outside afl-fuzz: keep an uninstrumented copy for replays.
replay="$out/replay"
rm -rf "$replay"
cp -r "$bin" "$replay"
echo "== fuzz: instrument HeaderFraming.dll"
"$tools/sharpfuzz" "$bin/HeaderFraming.dll"

failed=0
for t in "${targets[@]}"; do
  echo "== fuzz: $t: replaying seeds and regressions"
  dotnet "$replay/HeaderFraming.Fuzz.dll" "$t" "$fuzz_dir/seeds/$t" "$fuzz_dir/regressions/$t"

  echo "== fuzz: $t: afl-fuzz for ${seconds}s"
  rm -rf "${out:?}/$t"
  log="$out/$t.log"
  set +e
  AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    afl-fuzz -i "$fuzz_dir/seeds/$t" -o "$out/$t" -t 5000 -m none -V "$seconds" -- dotnet "$bin/HeaderFraming.Fuzz.dll" "$t" \
    >"$log" 2>&1 </dev/null
  status=$?
  set -e
  stats="$out/$t/default/fuzzer_stats"
  if [ "$status" != 0 ] || [ ! -f "$stats" ]; then
    echo "fuzz: $t: afl-fuzz exited with $status; the end of $log:" >&2
    tail -n 30 "$log" >&2
    failed=1
    continue
  fi

  stat() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
  crashes=$(find "$out/$t/default/crashes" -type f ! -name README.txt 2>/dev/null | wc -l)
  hangs=$(find "$out/$t/default/hangs" -type f 2>/dev/null | wc -l)
  echo "fuzz: $t: $(stat execs_done) executions in $(stat run_time)s ($(stat execs_per_sec)/s), corpus $(stat corpus_count), edges $(stat edges_found), crashes $crashes, hangs $hangs"
  if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
    failed=1
    for f in "$out/$t/default/crashes"/id:* "$out/$t/default/hangs"/id:*; do
      [ -f "$f" ] || continue
      echo "fuzz: $t: finding $f (replay: dotnet $replay/HeaderFraming.Fuzz.dll $t '$f'); hex:" >&2
      od -A d -t x1 "$f" | head -n 8 >&2
      timeout 20 dotnet "$replay/HeaderFraming.Fuzz.dll" "$t" "$f" 2>&1 | head -n 15 >&2 || true
    done
  fi
done

if [ "$failed" != 0 ]; then
  echo "fuzz: FAILED (copy each finding into fuzz/regressions/<target>/ and add a regression test)" >&2
  exit 1
fi
echo "fuzz: no crash, no hang"
