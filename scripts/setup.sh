#!/usr/bin/env bash
# Sets up everything on a fresh machine: a virtual environment in .venv with maskprep installed
# (editable, incremental C++ build in build/release) and its optional extras for tests,
# benchmarks and torch. Safe to run again: it only rebuilds what changed.
#
#   MASKPREP_EXTRAS   extras to install (default: test,bench,torch,ray)
#   MASKPREP_VENV     the environment's folder (default: .venv)
#   MASKPREP_CMAKE    extra -C options for the build, e.g. "-Ccmake.define.MASKPREP_OPENMP=OFF"
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${MASKPREP_VENV:-.venv}
extras=${MASKPREP_EXTRAS-test,bench,torch,ray}
py=${PYTHON:-python3}
pip() { "$venv/bin/python" -m pip "$@"; }

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  "$py" -m venv "$venv"
  pip install -q --upgrade pip
fi
# The build backend and its tools, so that the editable build can run without isolation
# (a persistent build folder makes a rebuild after an edit take seconds).
pip install -q "scikit-build-core>=0.11" "pybind11>=2.13" "setuptools-scm>=8" "cmake>=3.18" ninja
build_dir=${MASKPREP_BUILD_DIR:-build/release}
echo "setup: building maskprep (extras: ${extras:-none}) in $build_dir"
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
# shellcheck disable=SC2086
pip install -q --no-build-isolation -Cbuild-dir="$build_dir" -Ccmake.define.MASKPREP_WERROR=ON \
  ${MASKPREP_CMAKE:-} -e "$spec"
# ultralytics, for the YOLO tests that compare with its own converter (tests/test_formats_yolo.py,
# run in child processes): without its dependencies, which would add opencv-python (the GUI build,
# clashing with opencv-python-headless), torch pins and more; what the tests use needs only
# numpy, cv2, PIL, yaml, matplotlib and torch (importing ultralytics.data needs it): only with the
# test and torch extras both (the serial and sanitizer stages have no torch; the tests skip there).
if [[ ",$extras," == *,test,* && ",$extras," == *,torch,* ]]; then
  pip install -q --no-deps "ultralytics==8.4.190"
fi
"$venv/bin/python" -c "import maskprep, json; print('setup: maskprep', json.dumps(maskprep.build_info()))"
