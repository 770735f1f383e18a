"""Turn pytest-benchmark JSON into ratio tables (markdown) and a plot: maskprep against the
anchor(s) that share its benchmark group.

In a group, an entry is maskprep's when a parameter value or its name starts with "maskprep";
every other entry is an anchor. Ratios are anchor median / maskprep median, same run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Union

__all__ = ["BenchmarkRunFailed", "Row", "benchmark_dir", "markdown", "plot", "rows", "run"]


class BenchmarkRunFailed(RuntimeError):
    """The benchmark run failed or ran nothing (``maskprep bench`` exits 1)."""


def benchmark_dir(explicit: Optional[Path] = None) -> Optional[Path]:
    """The benchmark folder: ``explicit`` when given, else ``./benchmarks`` or the source
    checkout's; None when none exists.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> benchmark_dir(pathlib.Path(tempfile.mkdtemp())) is not None
    True
    >>> benchmark_dir(pathlib.Path("no/such/folder")) is None
    True
    """
    candidates = (
        [explicit]
        if explicit
        else [Path.cwd() / "benchmarks", Path(__file__).resolve().parents[2] / "benchmarks"]
    )
    for c in candidates:
        if c is not None and c.is_dir():
            return c
    return None


def run(bench_dir: Path, json_path: Path, keyword: Optional[str] = None) -> None:
    """Run the benchmarks of ``bench_dir`` with pytest-benchmark (timings on), writing its JSON
    to ``json_path``; ``keyword`` selects cases as pytest's ``-k``.

    Raises
    ------
    BenchmarkRunFailed
        pytest failed, or every selected case was skipped or deselected (most need the real
        data in ../shared/data).
    """
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(bench_dir),
        "-q",
        "--benchmark-enable",
        f"--benchmark-json={json_path}",
        "-p",
        "no:cacheprovider",
        # all selected cases skipped (e.g. no ../shared/data): reported below, not a failure
        "-W",
        "ignore:Not saving anything:pytest_benchmark.logger.PytestBenchmarkWarning",
    ]
    if keyword:
        cmd += ["-k", keyword]
    json_path.unlink(missing_ok=True)
    rc = subprocess.call(cmd, cwd=bench_dir.parent)
    if rc not in (0, 5):  # 5: pytest selected nothing, reported below
        raise BenchmarkRunFailed(f"the benchmark run failed (pytest exit {rc})")
    if not json_path.exists():
        raise BenchmarkRunFailed(
            "no benchmark ran: every selected case was skipped or deselected (most need "
            "the real data in ../shared/data; see pytest's skip reasons above)"
        )


@dataclass
class Row:
    group: str
    impl: str
    median_s: float
    ratios: Dict[str, float]  # anchor impl -> anchor median / this median


def _impl(bench: dict) -> str:
    """Which implementation a case times: its ``impl`` parameter, else ``extra_info["impl"]``,
    else a parameter naming maskprep, else all its parameters joined, else its name."""
    params = bench.get("params") or {}
    if "impl" in params:
        return str(params["impl"])
    extra = bench.get("extra_info") or {}
    if "impl" in extra:
        return str(extra["impl"])
    for v in params.values():
        if str(v).startswith("maskprep"):
            return str(v)
    if params:
        return "-".join(str(v) for v in params.values())
    return bench.get("name", "?")


def rows(data: Union[dict, str, Path]) -> List[Row]:
    loaded = data if isinstance(data, dict) else json.loads(Path(data).read_text())
    groups: Dict[str, List[dict]] = {}
    for b in loaded.get("benchmarks", []):
        groups.setdefault(b.get("group") or b["name"], []).append(b)
    out = []
    for group, benches in sorted(groups.items()):
        mine = [b for b in benches if _impl(b).startswith("maskprep")]
        anchors = {_impl(b): b["stats"]["median"] for b in benches if b not in mine}
        for b in sorted(mine, key=_impl):
            med = b["stats"]["median"]
            out.append(Row(group, _impl(b), med, {a: m / med for a, m in anchors.items()}))
    return out


def markdown(table: List[Row]) -> str:
    lines = [
        "| group | maskprep | median | vs anchor (anchor median / maskprep median) |",
        "|---|---|---|---|",
    ]
    for r in table:
        ratios = ", ".join(f"{v:.1f}x vs {k}" for k, v in r.ratios.items()) or "no anchor"
        lines.append(f"| {r.group} | {r.impl} | {_fmt(r.median_s)} | {ratios} |")
    return "\n".join(lines) + "\n"


def _fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def plot(table: List[Row], path: Union[str, Path], title: Optional[str] = None) -> None:
    """Horizontal bars of the ratio against each group's first anchor (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in table if r.ratios]
    labels = [f"{r.group} [{r.impl}]" for r in shown]
    values = [next(iter(r.ratios.values())) for r in shown]
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(shown) + 1.5))
    ax.barh(range(len(shown)), values, color=["tab:green" if v >= 1 else "tab:red" for v in values])
    ax.set_yticks(range(len(shown)), labels, fontsize=7)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("speed-up over the anchor in the same group (x, log scale)")
    ax.set_title(title or "maskprep vs anchors")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
