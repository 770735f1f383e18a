#!/usr/bin/env bash
# Fuzz campaigns over the C++ kernels: builds the libFuzzer harnesses (fuzz/*.cpp, ASan + UBSan,
# clang) in build/fuzz, seeds fuzz/corpus/<harness>/ from ../shared/data, runs each harness and
# prints its executions and any crash (reproducer saved under build/fuzz/artifacts/<harness>/).
#
#   scripts/fuzz.sh [--seconds N | --runs N] [--keep-going] [harness...]
#     --seconds N    time per harness (default 60)        --runs N   inputs per harness
#     --keep-going   restart a harness after a crash until its budget is spent
#   harnesses: rle_string polygon iou_merge coco_json roi_align morphology label_image (default: all)
# Reproduce a crash: build/fuzz/fuzz_<harness> build/fuzz/artifacts/<harness>/crash-...
# Needs clang and libFuzzer (Debian: apt-get install clang libclang-rt-14-dev) and cmake.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60 runs="" keep=0 harnesses=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --keep-going) keep=1; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
    *) harnesses+=("$1"); shift ;;
  esac
done
[ ${#harnesses[@]} -gt 0 ] || harnesses=(rle_string polygon iou_merge coco_json roi_align morphology label_image)

cxx=${CXX_FUZZ:-$(command -v clang++ || command -v clang++-14 || true)}
[ -n "$cxx" ] || { echo "fuzz: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
cmake=$(command -v cmake || echo .venv/bin/cmake)
build=build/fuzz
gen=(); ninja=$(command -v ninja || ls .venv/bin/ninja 2>/dev/null || true)
[ -n "$ninja" ] && gen=(-G Ninja -DCMAKE_MAKE_PROGRAM="$PWD/$ninja")
[ -n "$ninja" ] && [ "${ninja:0:1}" = / ] && gen=(-G Ninja -DCMAKE_MAKE_PROGRAM="$ninja")
if [ ! -f "$build/CMakeCache.txt" ]; then
  "$cmake" -S fuzz -B "$build" "${gen[@]}" -DCMAKE_CXX_COMPILER="$cxx" > /dev/null
fi
"$cmake" --build "$build" -j "$(nproc)" > "$build/build.log" 2>&1 || { cat "$build/build.log"; exit 1; }

data=../shared/data
if [ -d "$data" ] && [ ! -d fuzz/corpus ]; then python3 fuzz/seed_corpus.py "$data" fuzz/corpus; fi

# Python-style leaks are not an issue here, but a harness must not leak either: keep LSan on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
total=0 crashes=0 seen=()
for h in "${harnesses[@]}"; do
  exe=$build/fuzz_$h
  [ -x "$exe" ] || { echo "fuzz: no harness $h" >&2; exit 2; }
  mkdir -p "fuzz/corpus/$h" "$build/artifacts/$h"
  dirs=("fuzz/corpus/$h"); [ -d "fuzz/seeds/$h" ] && dirs+=("fuzz/seeds/$h")
  budget=(-max_total_time="$seconds"); [ -n "$runs" ] && budget=(-runs="$runs")
  execs=0 start=$SECONDS
  while :; do
    log=$build/artifacts/$h/run-$$.log  # per process: two campaigns may share a build
    rc=0
    "$exe" "${budget[@]}" -print_final_stats=1 -rss_limit_mb=2048 -timeout=20 \
      -artifact_prefix="$build/artifacts/$h/" "${dirs[@]}" > "$log" 2>&1 || rc=$?
    n=$(grep -ao 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}' || true)
    execs=$((execs + ${n:-0}))
    [ "$rc" -eq 0 ] && break
    # One line per distinct finding (its first report line, addresses and pids dropped): a
    # restarted run soon finds the same defect again.
    key=$(grep -a -m1 -E 'runtime error|FUZZ_ASSERT|ERROR: ' "$log" | sed -E 's/0x[0-9a-f]+//g; s/==[0-9]+==//g; s/: [-0-9]+ [-+*] [-0-9]+ cannot/: cannot/' || true)
    if [[ " ${seen[*]:-} " != *" $h:$key "* ]]; then
      seen+=("$h:$key")
      crashes=$((crashes + 1))
      echo "fuzz: $h CRASH (rc $rc): $(grep -a -m1 -E 'Test unit written to' "$log" | sed 's/.*written to //' || true)"
      grep -a -m3 -E 'ERROR: |runtime error|FUZZ_ASSERT|SUMMARY' "$log" | sed 's/^/    /' || true
      grep -a -m6 -E '^ +#[0-9]+ 0x.* in maskprep' "$log" | sed 's/^/    /' || true
    fi
    [ "$keep" = 1 ] || break
    if [ -z "$runs" ]; then
      left=$((seconds - (SECONDS - start)))
      [ "$left" -gt 2 ] || break
      budget=(-max_total_time="$left")
    else
      left=$((runs - execs)); [ "$left" -gt 0 ] || break
      budget=(-runs="$left")
    fi
  done
  mv "$log" "$build/artifacts/$h/last.log"
  echo "fuzz: $h: $execs executions in $((SECONDS - start)) s"
  total=$((total + execs))
done
echo "fuzz: total $total executions, $crashes distinct crash(es)"
[ "$crashes" -eq 0 ]
