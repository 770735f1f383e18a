"""The examples in the package's docstrings run and give what they show (doctest), and the
public functions of the modules below each have one (issue 11: a doctested example per
public function; the other modules' examples run too, wherever they have them)."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import maskprep

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(maskprep.__path__, "maskprep.")
    if m.name != "maskprep._core"
)
# Modules that import torch when imported (the others import it lazily).
TORCH_AT_IMPORT = {"maskprep.torch_ops"}
# Modules whose every public function must show an example.
WITH_EXAMPLES = [
    "maskprep._threads",
    "maskprep.benchreport",
    "maskprep.cli",
    "maskprep.coco",
    "maskprep.components",
    "maskprep.datasets",
    "maskprep.imgproc",
    "maskprep.models",
    "maskprep.morphology",
    "maskprep.ops",
    "maskprep.ray",
    "maskprep.shards",
    "maskprep.torch_ops",
    "maskprep.visualize",
]


@pytest.mark.parametrize("name", ["maskprep", *MODULES])
def test_docstring_examples_pass(name):
    if name in TORCH_AT_IMPORT:
        pytest.importorskip("torchvision")  # the optional [torch] extra
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=flags)
    tests = finder.find(module, name)
    if name.startswith("maskprep.models") or any(
        ">>> import torch" in (t.docstring or "") for t in tests
    ):
        pytest.importorskip("torchvision")  # the optional [torch] extra
    for test in tests:
        runner.run(test)
    assert runner.failures == 0, f"{runner.failures} failing example(s) in {name} (see stdout)"


def _public_functions(name: str):
    module = importlib.import_module(name)
    for attr in getattr(module, "__all__", []):
        obj = getattr(module, attr)
        if not getattr(obj, "__module__", "").startswith(name):
            continue  # re-exported from a module of its own (e.g. ops.paste_masks)
        if inspect.isfunction(obj):
            yield f"{name}.{attr}", obj
        elif inspect.isclass(obj):
            for meth, fn in vars(obj).items():
                if inspect.isfunction(fn) and not meth.startswith("_"):
                    yield f"{name}.{attr}.{meth}", fn


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_public_functions_have_examples(name):
    missing = [q for q, fn in _public_functions(name) if ">>>" not in (fn.__doc__ or "")]
    assert not missing, f"no Examples section: {missing}"
