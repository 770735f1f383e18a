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

    Parameters
    ----------
    explicit : pathlib.Path, optional
        The folder to use (``maskprep bench --benchmarks``).

    Returns
    -------
    pathlib.Path or None

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
    to ``json_path``; ``keyword`` selects cases as pytest's ``-k``. pytest's report goes to
    the process's standard output.

    Parameters
    ----------
    bench_dir : pathlib.Path
        The benchmark folder (pytest runs in its parent).
    json_path : pathlib.Path
        Where pytest-benchmark writes its JSON (replaced).
    keyword : str, optional
        pytest's ``-k`` expression.

    Raises
    ------
    BenchmarkRunFailed
        pytest failed, or every selected case was skipped or deselected (most need the real
        data in ../shared/data).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "benchmarks"
    >>> folder.mkdir()
    >>> _ = (folder / "test_sum.py").write_text("def test_sum(benchmark): benchmark(sum, [1, 2])")
    >>> run(folder, folder.parent / "b.json")
    >>> import json
    >>> [b["name"] for b in json.loads((folder.parent / "b.json").read_text())["benchmarks"]]
    ['test_sum']
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
    """Ratio rows of a pytest-benchmark run: one per maskprep entry, against every anchor of its
    group (anchor median / maskprep median, same run).

    Parameters
    ----------
    data : dict, str or pathlib.Path
        pytest-benchmark's JSON, loaded or as a file.

    Returns
    -------
    list of Row

    Raises
    ------
    OSError, ValueError
        A file that cannot be read or is not JSON.

    Examples
    --------
    >>> data = {"benchmarks": [
    ...     {"group": "g", "name": "a", "params": {"impl": "pycocotools"}, "stats": {"median": 2.0}},
    ...     {"group": "g", "name": "b", "params": {"impl": "maskprep"}, "stats": {"median": 0.5}}]}
    >>> rows(data)
    [Row(group='g', impl='maskprep', median_s=0.5, ratios={'pycocotools': 4.0})]
    """
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
    """The rows as a markdown table.

    Parameters
    ----------
    table : list of Row

    Returns
    -------
    str

    Examples
    --------
    >>> data = {"benchmarks": [
    ...     {"group": "g", "name": "a", "params": {"impl": "pycocotools"}, "stats": {"median": 2.0}},
    ...     {"group": "g", "name": "b", "params": {"impl": "maskprep"}, "stats": {"median": 0.5}}]}
    >>> print(markdown(rows(data)))
    | group | maskprep | median | vs anchor (anchor median / maskprep median) |
    |---|---|---|---|
    | g | maskprep | 500.00 ms | 4.0x vs pycocotools |
    <BLANKLINE>
    """
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
    """Horizontal bars of the ratio against each group's first anchor (log scale), as a PNG.

    Parameters
    ----------
    table : list of Row
    path : str or pathlib.Path
        The PNG to write.
    title : str, optional

    Raises
    ------
    ImportError
        Without matplotlib (the ``bench`` extra).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> data = {"benchmarks": [
    ...     {"group": "g", "name": "a", "params": {"impl": "pycocotools"}, "stats": {"median": 2.0}},
    ...     {"group": "g", "name": "b", "params": {"impl": "maskprep"}, "stats": {"median": 0.5}}]}
    >>> png = pathlib.Path(tempfile.mkdtemp()) / "report.png"
    >>> plot(rows(data), png)
    >>> png.stat().st_size > 0
    True
    """
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
