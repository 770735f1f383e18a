"""Readers and writers for the formats users hold their masks in, besides COCO instances files
(issue 14).

- :mod:`maskprep.formats.results` - COCO results files (the detections list COCOeval reads):
  :func:`load_results`, :func:`validate_results`, :func:`convert_results`,
  :func:`results_to_instances`.
"""

from __future__ import annotations

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
    "NotResultsFile",
    "ResultProblem",
    "convert_results",
    "convert_results_file",
    "is_results_file",
    "load_results",
    "results_to_instances",
    "validate_results",
]
