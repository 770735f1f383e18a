"""One version everywhere: the package, the compiled module, the installed metadata and the
command all report the version scikit-build-core took from git (setuptools-scm), PEP 440 valid."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.version import Version

import maskprep
from maskprep import cli


def test_version_is_pep440_and_matches_build_info_and_metadata():
    version = maskprep.__version__
    assert isinstance(version, str) and version
    assert str(Version(version)) == version  # valid and already in normal form
    assert maskprep.build_info()["version"] == version
    assert metadata.version("maskprep") == version


def test_cli_version_flag_prints_the_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"maskprep {maskprep.__version__}"


def test_installed_command_prints_the_version():
    script = Path(sys.executable).parent / (
        "maskprep.exe" if sys.platform == "win32" else "maskprep"
    )
    if not script.exists():
        pytest.skip(f"no maskprep console script beside {sys.executable}")
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"maskprep {maskprep.__version__}"


def test_version_flag_belongs_to_the_main_parser_only():
    with pytest.raises(SystemExit) as exc:
        cli.main(["validate", "--version"])
    assert exc.value.code == 2  # unknown option of the subcommand
