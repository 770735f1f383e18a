"""The examples in the package's docstrings run and give what they show (doctest), and the
public functions of the modules below each have one (issue 11: a doctested example per
public function; the other modules' examples run too, wherever they have them)."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re

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
    "maskprep.boxes",
    "maskprep.cli",
    "maskprep.coco",
    "maskprep.components",
    "maskprep.contours",
    "maskprep.datasets",
    "maskprep.formats",
    "maskprep.formats.labelme",
    "maskprep.formats.png",
    "maskprep.formats.results",
    "maskprep.formats.sharded",
    "maskprep.formats.yolo",
    "maskprep.imgproc",
    "maskprep.mask",
    "maskprep.models",
    "maskprep.morphology",
    "maskprep.ops",
    "maskprep.paste",
    "maskprep.ray",
    "maskprep.rle",
    "maskprep.shards",
    "maskprep.torch_ops",
    "maskprep.visualize",
]
# Modules (of WITH_EXAMPLES) whose public functions use numpy-style docstrings throughout: a
# "Parameters" section wherever they take arguments, no Google-style "Args:" (issue 11 item 7:
# one docstring style). A module joins once its functions comply.
NUMPY_STYLE = [
    "maskprep._threads",
    "maskprep.benchreport",
    "maskprep.boxes",
    "maskprep.cli",
    "maskprep.coco",
    "maskprep.components",
    "maskprep.contours",
    "maskprep.datasets",
    "maskprep.formats",
    "maskprep.formats.labelme",
    "maskprep.formats.png",
    "maskprep.formats.results",
    "maskprep.formats.sharded",
    "maskprep.formats.yolo",
    "maskprep.imgproc",
    "maskprep.mask",
    "maskprep.models",
    "maskprep.morphology",
    "maskprep.ops",
    "maskprep.paste",
    "maskprep.ray",
    "maskprep.rle",
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
    if name in TORCH_AT_IMPORT:
        pytest.importorskip("torch")  # the optional [torch] extra (the serial CI stage has none)
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


_PARAMETERS = re.compile(r"^Parameters\n-{3,}$", re.MULTILINE)
_GOOGLE_ARGS = re.compile(r"^\s*Args:\s*$", re.MULTILINE)


def _takes_arguments(fn) -> bool:
    params = list(inspect.signature(fn).parameters)
    return bool(params[1:] if params[:1] in (["self"], ["cls"]) else params)


def test_module_lists_are_sorted_and_nested():
    assert set(NUMPY_STYLE) <= set(WITH_EXAMPLES)
    assert NUMPY_STYLE == sorted(NUMPY_STYLE) and WITH_EXAMPLES == sorted(WITH_EXAMPLES)


@pytest.mark.parametrize("name", NUMPY_STYLE)
def test_public_functions_use_numpy_style(name):
    functions = list(_public_functions(name))
    assert functions, f"{name} has no public functions to check"
    google = [q for q, fn in functions if _GOOGLE_ARGS.search(inspect.getdoc(fn) or "")]
    assert not google, f"Google-style 'Args:' (use a numpy 'Parameters' section): {google}"
    missing = [
        q
        for q, fn in functions
        if _takes_arguments(fn) and not _PARAMETERS.search(inspect.getdoc(fn) or "")
    ]
    assert not missing, f"no numpy-style 'Parameters' section: {missing}"


def test_every_public_module_is_checked():
    """Issue 11: an example per public function of the package, not of a chosen few modules.
    A public module is covered by WITH_EXAMPLES itself or by a listed package re-exporting it
    (maskprep.ops re-exports ops.align, ops.multiscale, ops.pooling)."""
    public = [m for m in MODULES if not any(p.startswith("_") for p in m.split(".")[1:])]
    # The listed test comes first: a listed module is not imported here (torch_ops needs torch).
    unchecked = [
        m
        for m in public
        if not any(m == w or m.startswith(w + ".") for w in WITH_EXAMPLES)
        and list(_public_functions(m))
    ]
    assert not unchecked, f"add to WITH_EXAMPLES: {unchecked}"
