"""Packaging: the installed distribution's licence metadata and files, and a valid
[tool.cibuildwheel] configuration (cibuildwheel itself lists the builds it would run)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent  # the checkout, or wheel_check's copied tests


def test_licence_metadata_and_files_are_installed():
    dist = metadata.distribution("maskprep")
    assert dist.metadata["License-Expression"] == "BSD-3-Clause"
    license_files = dist.metadata.get_all("License-File") or []
    assert "LICENSE" in license_files
    assert "python/maskprep/data/sample/ATTRIBUTION.md" in license_files
    installed = {str(f).replace("\\", "/") for f in dist.files or []}
    for name in license_files:
        path = next((f for f in installed if f.endswith(f"licenses/{name}")), None)
        assert path is not None, f"{name} not among the installed files"
        text = Path(dist.locate_file(path)).read_text(encoding="utf-8")
        assert ("BSD 3-Clause" in text) if name == "LICENSE" else ("CC BY 4.0" in text)


def test_classifiers_and_typed_marker():
    meta = metadata.metadata("maskprep")
    classifiers = set(meta.get_all("Classifier") or [])
    assert "Typing :: Typed" in classifiers
    for minor in range(9, 14):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert resources.files("maskprep").joinpath("py.typed").is_file()
    assert resources.files("maskprep").joinpath("data/sample/ATTRIBUTION.md").is_file()


def test_cibuildwheel_config_lists_the_expected_linux_builds():
    pytest.importorskip("cibuildwheel")  # in the test extra on Python >= 3.11
    exe = shutil.which("cibuildwheel", path=str(Path(sys.executable).parent)) or shutil.which(
        "cibuildwheel"
    )
    if exe is None:
        pytest.skip("cibuildwheel is importable but its command is not on PATH")
    out = subprocess.run(
        [exe, "--print-build-identifiers", "--platform", "linux"],
        cwd=ROOT,  # where pyproject.toml is
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    expected = {
        f"cp3{minor}-manylinux_{arch}"
        for minor in (10, 11, 12, 13)
        for arch in ("x86_64", "aarch64")
    }
    assert set(out.stdout.split()) == expected
