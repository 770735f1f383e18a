"""What an importer or exporter did: every object it could not convert, by file and object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass
class Skipped:
    """One object (or whole file, ``obj`` None) left out, and why."""

    file: str
    obj: Optional[Any]
    reason: str

    def __str__(self) -> str:
        where = self.file if self.obj is None else f"{self.file}: object {self.obj}"
        return f"{where}: {self.reason}"


@dataclass
class FormatReport:
    """The outcome of one import or export.

    - ``files``: files read (import) or written (export);
    - ``objects``: objects converted;
    - ``skipped``: the objects (or files) that could not be converted, each a :class:`Skipped`
      with its reason. Never silent: the command lists them and exits 1 unless told to skip;
    - ``notes``: what the user should know that lost nothing (overlaps painted over, parts
      joined);
    - ``extra``: format-specific counts (e.g. ``{"crowd_as_polygon": 3}``).
    """

    files: int = 0
    objects: int = 0
    skipped: List[Skipped] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    extra: Dict[str, Any] = field(default_factory=dict)

    def skip(self, file: Any, obj: Optional[Any], reason: str) -> None:
        """Record one object (``obj``; None for a whole file) of ``file`` as not converted.

        Parameters
        ----------
        file : path or str
            The file the object came from (kept as str).
        obj : object, optional
            The object within it: an annotation id, a line number, a shape index.
        reason : str
            Why it was not converted.

        Examples
        --------
        >>> report = FormatReport()
        >>> report.skip("labels/a.txt", 3, "class index 80 is not in the YAML's names")
        >>> print(report.skipped[0])
        labels/a.txt: object 3: class index 80 is not in the YAML's names
        """
        self.skipped.append(Skipped(str(file), obj, reason))
