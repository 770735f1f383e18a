#!/usr/bin/env bash
# The sanitizer stage: maskprep built with ASan + UBSan (MASKPREP_SANITIZE=ON, no recovery) in
# .venv-asan / build/asan, then the core tests (tests/, property tests included; torch is not
# installed here, so what needs it skips itself) under the sanitizer runtimes, then a short
# libFuzzer budget per harness (scripts/fuzz.sh) when clang is available.
#
#   MASKPREP_FUZZ_SECONDS  seconds per harness (default 20; 0 skips the libFuzzer stage)
#   MASKPREP_FUZZ_FLAGS    extra scripts/fuzz.sh flags (e.g. --keep-going)
#   extra arguments        go to pytest (e.g. scripts/sanitize.sh tests/test_rle.py -x)
set -euo pipefail
cd "$(dirname "$0")/.."

# Python is not instrumented: the runtimes are preloaded (the ASan one first, as it requires).
# Leak checking is off because CPython keeps its objects alive at exit by design; pycocotools is
# not instrumented either, so only its calls through ASan's interceptors are checked.
cc=${CC:-gcc}
asan=$("$cc" -print-file-name=libasan.so) ubsan=$("$cc" -print-file-name=libubsan.so)
[ -f "$asan" ] && [ -f "$ubsan" ] || { echo "sanitize: $cc has no libasan/libubsan" >&2; exit 2; }
# pycocotools' rleToString (the anchor, uninstrumented) writes no terminating NUL when every
# value takes 6 characters, so PyBytes_FromString's strlen overreads its buffer (seen in
# tests/test_rle.py with counts below 2^28): suppress that interceptor report, and only when
# pycocotools' _toString is on the stack, so that no report of ours can be hidden.
reports=$PWD/build/asan/reports
mkdir -p "$reports" && rm -f "$reports"/*
cat > build/asan/suppressions.txt <<'SUPP'
interceptor_via_fun:__pyx_pw_11pycocotools_5_mask_1_toString
SUPP
# Reports go to files: pytest captures stderr, and an aborting process loses what it captured.
# allocator_may_return_null: an allocation too large to exist (the tests ask numpy for a 2^62-byte
# mask on purpose) fails as MemoryError, as it does without ASan, instead of aborting.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1:suppressions=$PWD/build/asan/suppressions.txt:log_path=$reports/asan
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan
export OMP_WAIT_POLICY=passive

# setup.sh ends by importing maskprep, which needs the runtimes too: preload them for the whole
# set-up (pip, cmake and the compiler run fine on top of them, only slower).
LD_PRELOAD="$asan:$ubsan" MASKPREP_VENV=.venv-asan MASKPREP_BUILD_DIR=build/asan \
  MASKPREP_EXTRAS=test MASKPREP_CMAKE="-Ccmake.define.MASKPREP_SANITIZE=ON" bash scripts/setup.sh

[ $# -gt 0 ] || set -- tests -q -x
rc=0
LD_PRELOAD="$asan:$ubsan" .venv-asan/bin/python -m pytest -p no:cacheprovider "$@" || rc=$?
# A report is an error or a UBSan finding; "failed to allocate" warnings (the MemoryError cases
# above) are shown but are not findings.
if compgen -G "$reports/*" > /dev/null; then
  cat "$reports"/* >&2
  if grep -qE "ERROR: AddressSanitizer|runtime error:|SUMMARY: " "$reports"/*; then
    echo "sanitize: sanitizer reports (above)" >&2
    rc=${rc/#0/1}
  fi
fi
[ "$rc" -eq 0 ] || { echo "sanitize: the tests failed under ASan/UBSan (rc $rc)" >&2; exit "$rc"; }

seconds=${MASKPREP_FUZZ_SECONDS:-20}
if [ "$seconds" != 0 ]; then
  if command -v clang++ > /dev/null || command -v clang++-14 > /dev/null; then
    # fuzz.sh sets its own sanitizer options (reports in its logs, not in files).
    # shellcheck disable=SC2086
    env -u ASAN_OPTIONS -u UBSAN_OPTIONS bash scripts/fuzz.sh --seconds "$seconds" ${MASKPREP_FUZZ_FLAGS:-}
  else
    echo "sanitize: no clang++, skipping the libFuzzer stage (the property tests ran above)"
  fi
fi
