"""Static checks that belong to the test suite (the stub check is in test_layout_cpp.py): the
Python sources pass ruff (lint and format) and mypy (the project's [tool.mypy] configuration).
The source checks skip themselves where the sources are not there (the wheel tests)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    result = subprocess.run(
        [ruff, "check", "python", "tests", "benchmarks", "conftest.py"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _sources_or_skip() -> None:
    if not (REPO / "python" / "maskprep").is_dir():
        pytest.skip("the sources are not here (an installed wheel's tests)")


def test_mypy_clean():
    """mypy over the package with the project's [tool.mypy] configuration: no errors. It needs
    the torch extra installed (the README's venv): without torch's stubs the tensor code paths
    type differently, so the torch-less serial stage skips it."""
    pytest.importorskip("mypy")
    _sources_or_skip()
    pytest.importorskip("torchvision", reason="mypy runs in the venv with the torch extra")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "python/maskprep"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_clean():
    """The Python sources are as ``ruff format`` writes them."""
    _sources_or_skip()
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    result = subprocess.run(
        [ruff, "format", "--check", "python", "tests", "benchmarks", "conftest.py"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
