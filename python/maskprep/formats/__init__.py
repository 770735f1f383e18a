"""Readers and writers for the formats users hold their masks in, besides COCO instances files
(issue 14).

- :mod:`maskprep.formats.results` - COCO results files (the detections list COCOeval reads):
  :func:`load_results`, :func:`validate_results`, :func:`convert_results`,
  :func:`results_to_instances`.
- :mod:`maskprep.formats.yolo` - ultralytics' YOLO segmentation layout (export and import).
- :mod:`maskprep.formats.labelme` - LabelMe JSON files (import).
- :mod:`maskprep.formats.png` - Cityscapes, VOC and instance-id PNGs (import), instance-id PNGs
  (export).
- :mod:`maskprep.formats.sharded` - :func:`~maskprep.formats.sharded.write_shards`: a COCO
  instances dict (an import) as shards in the layouts of :mod:`maskprep.shards`, which reads
  them back (:func:`maskprep.shards.read_shard`).

Every importer returns ``(dataset, report)``: a COCO instances dict and a
:class:`FormatReport` listing, by file and object, everything it could not convert. Every
exporter takes a COCO instances dict and an output folder and returns a :class:`FormatReport`.
The ``maskprep import`` / ``maskprep export`` commands dispatch through :data:`IMPORTERS` and
:data:`EXPORTERS` (format name -> function, each module imported on first use; a format whose
module is missing raises :class:`MissingFormat`). A new format is one module here and one line
in each table it belongs to.

Importer signature::

    read(src: Path, *, images: Optional[Path], to: str, num_threads: Optional[int],
         options: Dict[str, Any]) -> Tuple[Dict[str, Any], FormatReport]

Exporter signature::

    write(data: Dict[str, Any], out: Path, *, num_threads: Optional[int],
          options: Dict[str, Any]) -> FormatReport
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, Tuple

from ._report import FormatReport, Skipped
from .results import (
    NotResultsFile,
    ResultProblem,
    convert_results,
    convert_results_file,
    is_results_file,
    load_results,
    results_to_instances,
    validate_results,
)
from .sharded import SHARD_FORMATS, write_shards

__all__ = [
    "DEFAULT_TO",
    "EXPORTERS",
    "IMPORTERS",
    "FormatReport",
    "MissingFormat",
    "NotResultsFile",
    "ResultProblem",
    "SHARD_FORMATS",
    "Skipped",
    "convert_results",
    "convert_results_file",
    "is_results_file",
    "load_results",
    "results_to_instances",
    "validate_results",
    "write_shards",
]


class MissingFormat(ImportError):
    """A registered format whose module is not part of this build."""


class _Lazy:
    """A format's function, imported from its module on first call: ``import maskprep.formats``
    stays cheap, and a format whose module is absent fails only when it is used."""

    def __init__(self, fmt: str, module: str, name: str) -> None:
        self.fmt, self.module, self.name = fmt, module, name

    def load(self) -> Callable[..., Any]:
        try:
            mod = importlib.import_module(f".{self.module}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{self.module}":
                raise  # the module is there but one of its own imports is missing
            raise MissingFormat(
                f"format {self.fmt!r} needs maskprep.formats.{self.module}, which this build of "
                "maskprep does not have"
            ) from None
        fn: Callable[..., Any] = getattr(mod, self.name)
        return fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<maskprep.formats.{self.module}.{self.name} (loaded on first use)>"


def _registry(entries: Tuple[Tuple[str, str, str], ...]) -> Dict[str, Callable[..., Any]]:
    return {fmt: _Lazy(fmt, module, name) for fmt, module, name in entries}


#: Format name -> importer ``read(src, *, images, to, num_threads, options)``.
IMPORTERS: Dict[str, Callable[..., Any]] = _registry(
    (
        ("yolo", "yolo", "read_yolo"),
        ("labelme", "labelme", "read_labelme"),
        ("cityscapes", "png", "read_cityscapes"),
        ("voc", "png", "read_voc"),
        ("instance-png", "png", "read_instance_png"),
    )
)

#: Format name -> exporter ``write(data, out, *, num_threads, options)``.
EXPORTERS: Dict[str, Callable[..., Any]] = _registry(
    (
        ("yolo", "yolo", "write_yolo"),
        ("instance-png", "png", "write_instance_png"),
    )
)

#: The segmentation encoding an importer gives when the caller does not choose (``--to``):
#: polygons for the polygon formats, RLE for the mask formats.
DEFAULT_TO: Dict[str, str] = {
    "yolo": "polygon",
    "labelme": "polygon",
    "cityscapes": "rle",
    "voc": "rle",
    "instance-png": "rle",
}
