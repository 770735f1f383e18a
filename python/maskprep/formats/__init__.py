"""Readers and writers for the formats users hold their masks in (issue 14).

Every importer returns ``(dataset, report)``: a COCO instances dict and a
:class:`FormatReport` listing, by file and object, everything it could not convert. Every
exporter takes a COCO instances dict and an output folder and returns a :class:`FormatReport`.
The ``maskprep import`` / ``maskprep export`` commands dispatch through :data:`IMPORTERS` and
:data:`EXPORTERS`.

Importer signature::

    read(src: Path, *, images: Optional[Path], to: str, num_threads: Optional[int],
         options: Dict[str, Any]) -> Tuple[Dict[str, Any], FormatReport]

Exporter signature::

    write(data: Dict[str, Any], out: Path, *, num_threads: Optional[int],
          options: Dict[str, Any]) -> FormatReport
"""

from __future__ import annotations

from ._report import FormatReport, Skipped

__all__ = ["FormatReport", "Skipped"]
