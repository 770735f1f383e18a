"""Readers and writers for the formats users hold their masks in, besides COCO instances files
(issue 14).

- :mod:`maskprep.formats.results` - COCO results files (the detections list COCOeval reads):
  :func:`load_results`, :func:`validate_results`, :func:`convert_results`,
  :func:`results_to_instances`.
- :class:`FormatReport` / :class:`Skipped` - what an importer or exporter could not convert, by
  file and object (the report type of the importers and exporters to come: YOLO, PNG instance
  masks, LabelMe).
"""

from __future__ import annotations

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

__all__ = [
    "FormatReport",
    "NotResultsFile",
    "ResultProblem",
    "Skipped",
    "convert_results",
    "convert_results_file",
    "is_results_file",
    "load_results",
    "results_to_instances",
    "validate_results",
]
