"""Dataset-level jobs on COCO instance files (used by the ``maskprep`` command).

One module per concern, every public name re-exported here:

- :mod:`maskprep.coco.jsonio` - reading and atomically writing the JSON, and the exceptions that
  choose the command's exit code (:class:`UnreadableInput`, :class:`OutputError`).
- :mod:`maskprep.coco.structure` - the shape of an instances dict and its image sizes.
- :mod:`maskprep.coco.conversion` - :func:`convert` / :func:`convert_file` (to RLE or polygons).
- :mod:`maskprep.coco.validation` - :func:`validate`, every problem by annotation id.
- :mod:`maskprep.coco.box_masks` - :func:`add_box_masks` and finding an image's file.
"""

from __future__ import annotations

from .box_masks import (
    BOX_METHODS,
    BoxesReport,
    add_box_masks,
    find_image,
    image_file_names,
    load_rgb,
    masks_for_method,
)
from .conversion import ConvertReport, convert, convert_file, rles_or_errors
from .jsonio import (
    NotInstancesFile,
    OutputError,
    PathLike,
    UnreadableInput,
    load,
    make_dir,
    no_gc,
    output_problem,
    save,
)
from .structure import (
    MAX_SIDE,
    check_structure,
    image_hw,
    image_sizes,
    join_limited,
    side,
    structure_errors,
)
from .validation import BBOX_TOLERANCE, Problem, validate

__all__ = [
    "BBOX_TOLERANCE",
    "BOX_METHODS",
    "MAX_SIDE",
    "BoxesReport",
    "ConvertReport",
    "NotInstancesFile",
    "OutputError",
    "PathLike",
    "Problem",
    "UnreadableInput",
    "add_box_masks",
    "check_structure",
    "convert",
    "convert_file",
    "find_image",
    "image_file_names",
    "image_hw",
    "image_sizes",
    "join_limited",
    "load",
    "load_rgb",
    "make_dir",
    "masks_for_method",
    "no_gc",
    "output_problem",
    "rles_or_errors",
    "save",
    "side",
    "structure_errors",
    "validate",
]
