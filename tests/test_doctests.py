"""The docstrings' examples run (issue 11, item 7): every public function of the modules below
documents its errors (a numpy-style Raises section) and has an Examples section whose doctests
pass. numpy's print options are fixed so the expected reprs do not depend on the caller's.
The integrator extends MODULES to every module once their docstrings are converted."""

from __future__ import annotations

import doctest
import importlib
import inspect

import numpy as np
import pytest

MODULES = [
    "maskprep.rle",
    "maskprep.mask",
    "maskprep.boxes",
    "maskprep.paste",
    "maskprep.imgproc",
    "maskprep.morphology",
    "maskprep.components",
    "maskprep.contours",
    "maskprep.datasets",
]
# Modules whose examples need optional packages (skipped without them, e.g. the serial build).
NEEDS = {"maskprep.datasets": ("torch", "torchvision", "pycocotools")}
PRINT_OPTIONS = dict(precision=8, threshold=1000, linewidth=75, edgeitems=3, suppress=False)


def _module(name: str):
    for dep in NEEDS.get(name, ()):
        pytest.importorskip(dep)
    return importlib.import_module(name)


def _public_functions(module) -> list:
    names = getattr(module, "__all__", [])
    objs = [getattr(module, n) for n in names]
    return [o for o in objs if inspect.isfunction(o) or (inspect.isclass(o) and "__call__" in vars(o))]


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name: str) -> None:
    module = _module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    globs = {"np": np, **vars(module)}
    with np.printoptions(**PRINT_OPTIONS):
        for test in finder.find(module, name, globs=globs):
            runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.attempted > 0, f"{name} has no doctests"
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed in {name}"


@pytest.mark.parametrize("name", MODULES)
def test_public_functions_document_raises_and_examples(name: str) -> None:
    module = _module(name)
    missing = []
    for obj in _public_functions(module):
        doc = inspect.getdoc(obj) or ""
        for section in ("Parameters", "Returns", "Raises", "Examples"):
            if f"\n{section}\n{'-' * len(section)}\n" not in f"\n{doc}\n":
                missing.append(f"{obj.__name__}: {section}")
        if ">>> " not in doc:
            missing.append(f"{obj.__name__}: no example")
    assert not missing, f"{name}: numpy-style sections missing: {missing}"
