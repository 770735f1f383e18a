#!/usr/bin/env bash
# Builds the documentation site into docs/_build/html with warnings as errors (issue 16). The
# gallery and the benchmark plot are rendered by docs/conf.py during the build (from the bundled
# sample and the recorded medians; no benchmark runs). Installs the docs extra into the venv
# first when Sphinx or the theme is missing (through scripts/setup.sh, which also builds
# maskprep: the API pages import it).
#   MASKPREP_VENV   the environment (default: .venv)
#   extra arguments go to sphinx-build (e.g. -E for a clean rebuild)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${MASKPREP_VENV:-.venv}
if ! "$venv/bin/python" -c "import maskprep, sphinx, pydata_sphinx_theme, myst_parser" 2> /dev/null; then
  echo "docs: installing the docs extra into $venv"
  MASKPREP_EXTRAS="${MASKPREP_EXTRAS-test,bench,torch},docs" bash scripts/setup.sh
fi
start=$SECONDS
# -W --keep-going: every warning is reported, and any fails the build. Not nitpicky (-n): without
# intersphinx (no network in CI) numpy's and the standard library's types cannot resolve.
"$venv/bin/python" -m sphinx -b html -W --keep-going -q docs docs/_build/html "$@"
echo "docs: built docs/_build/html in $((SECONDS - start)) s"
