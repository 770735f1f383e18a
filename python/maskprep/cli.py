"""The ``maskprep`` command: whole-dataset jobs on COCO instance files.

Exit codes: 0 success; 1 the job found invalid data (nothing written unless --skip-invalid);
2 bad command-line arguments or unreadable input.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from importlib import resources
from pathlib import Path
from typing import List, Optional

from . import coco

EXAMPLES = {
    "convert": "maskprep convert instances.json -o instances_rle.json --to rle --recompute",
    "validate": "maskprep validate instances.json",
    "show": "maskprep show instances.json --images val2017/ --out overlays/ --ids 139 285",
    "bench": "maskprep bench --out bench-report/",
    "demo": "maskprep demo --out maskprep-demo",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="maskprep",
        description="Fast, exact mask preparation for COCO instance datasets.",
        epilog="examples:\n" + "\n".join(f"  {v}" for v in EXAMPLES.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=f"example:\n  {EXAMPLES[name]}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sp.add_argument(
            "--num-threads",
            type=int,
            default=None,
            metavar="N",
            help="threads (default: MASKPREP_NUM_THREADS or all cores; -1 = all)",
        )
        sp.add_argument("--quiet", action="store_true", help="print only errors")
        return sp

    c = add("convert", "Convert every segmentation of a COCO instances file.")
    c.add_argument("input", type=Path, help="COCO instances JSON (never modified)")
    c.add_argument("-o", "--output", type=Path, required=True, help="output JSON")
    c.add_argument("--to", choices=["rle"], default="rle", help="target format (default: rle)")
    c.add_argument("--recompute", action="store_true", help="recompute area and bbox from masks")
    c.add_argument(
        "--skip-invalid",
        action="store_true",
        help="leave unconvertible annotations as they are and list their ids",
    )

    v = add("validate", "Report every problem of a COCO instances file by annotation id.")
    v.add_argument("input", type=Path, help="COCO instances JSON")
    v.add_argument("--warnings-as-errors", action="store_true", help="exit 1 on warnings too")

    s = add("show", "Write PNG overlays of masks, boxes and labels.")
    s.add_argument("input", type=Path, help="COCO instances JSON")
    s.add_argument("--images", type=Path, required=True, help="folder of the image files")
    s.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    s.add_argument("--ids", type=int, nargs="*", help="image ids (default: the first --limit)")
    s.add_argument("--limit", type=int, default=20, help="at most this many images (default 20)")

    b = add("bench", "Run the benchmarks and write a ratio table (markdown) and a plot (PNG).")
    b.add_argument("--out", type=Path, default=Path("bench-report"), help="output folder")
    b.add_argument(
        "--benchmarks",
        type=Path,
        default=None,
        help="benchmark folder (default: ./benchmarks or the source checkout's)",
    )
    b.add_argument("-k", dest="keyword", default=None, help="only benchmarks matching (pytest -k)")
    b.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="report an existing pytest-benchmark JSON instead of running",
    )

    d = add(
        "demo",
        "Run convert, validate and show on the bundled sample (4 COCO val2017 images, CC BY).",
    )
    d.add_argument("--out", type=Path, default=Path("maskprep-demo"), help="output folder")
    return p


def _say(args: argparse.Namespace, *msg: object) -> None:
    if not args.quiet:
        print(*msg)


def cmd_convert(args: argparse.Namespace) -> int:
    if args.input.resolve() == args.output.resolve():
        print(
            "maskprep convert: the output must not be the input (it is never modified)",
            file=sys.stderr,
        )
        return 2
    t0 = time.perf_counter()
    data = coco.load(args.input)
    t1 = time.perf_counter()
    try:
        report = coco.segmentations_to_rle(
            data,
            recompute=args.recompute,
            skip_invalid=args.skip_invalid,
            num_threads=args.num_threads,
        )
    except ValueError as exc:
        print(f"maskprep convert: {exc}", file=sys.stderr)
        return 1
    t2 = time.perf_counter()
    coco.save(data, args.output)
    t3 = time.perf_counter()
    _say(
        args,
        f"converted {report.converted} annotations ({report.polygons} polygon, "
        f"{report.rles} RLE) -> {args.output}",
    )
    _say(args, f"time: read {t1 - t0:.3f} s, convert {t2 - t1:.3f} s, write {t3 - t2:.3f} s")
    if report.skipped:
        print(
            f"skipped {len(report.skipped)} invalid annotation(s), ids: {report.skipped}",
            file=sys.stderr,
        )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    data = coco.load(args.input)
    problems = coco.validate(data, num_threads=args.num_threads)
    errors = sum(p.level == "error" for p in problems)
    warnings = len(problems) - errors
    for p in problems:
        print(p, file=sys.stderr if p.level == "error" else sys.stdout)
    _say(
        args,
        f"{args.input}: {len(data.get('annotations', []))} annotations, "
        f"{errors} error(s), {warnings} warning(s)",
    )
    return 1 if errors or (warnings and args.warnings_as_errors) else 0


def cmd_show(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from . import rle, visualize

    data = coco.load(args.input)
    images = {im["id"]: im for im in data.get("images", [])}
    ids = args.ids if args.ids else list(images)[: args.limit]
    missing = [i for i in ids if i not in images]
    if missing:
        print(f"maskprep show: image ids not in {args.input}: {missing}", file=sys.stderr)
        return 2
    names = {c["id"]: c.get("name", str(c["id"])) for c in data.get("categories", [])}
    by_image: dict = {}
    for a in data.get("annotations", []):
        by_image.setdefault(a.get("image_id"), []).append(a)
    args.out.mkdir(parents=True, exist_ok=True)
    written = 0
    for image_id in ids:
        im = images[image_id]
        path = args.images / im["file_name"]
        if not path.exists():
            print(f"maskprep show: {path} not found", file=sys.stderr)
            return 2
        pixels = np.asarray(Image.open(path).convert("RGB"))
        anns = [a for a in by_image.get(image_id, []) if a.get("segmentation")]
        rles = rle.from_segmentations(
            [a["segmentation"] for a in anns],
            im["height"],
            im["width"],
            num_threads=args.num_threads,
        )
        picture = visualize.overlay(
            pixels,
            rles,
            boxes=[a["bbox"] for a in anns if "bbox" in a]
            if all("bbox" in a for a in anns)
            else None,
            labels=[names.get(a.get("category_id"), a.get("category_id")) for a in anns],
        )
        Image.fromarray(picture).save(args.out / f"{image_id}.png")
        written += 1
    _say(args, f"wrote {written} overlay(s) to {args.out}")
    return 0


def _benchmark_dir(explicit: Optional[Path]) -> Optional[Path]:
    candidates = (
        [explicit]
        if explicit
        else [Path.cwd() / "benchmarks", Path(__file__).resolve().parents[2] / "benchmarks"]
    )
    for c in candidates:
        if c is not None and c.is_dir():
            return c
    return None


def cmd_bench(args: argparse.Namespace) -> int:
    import subprocess

    from . import benchreport

    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.from_json
    if json_path is None:
        bench_dir = _benchmark_dir(args.benchmarks)
        if bench_dir is None:
            print(
                "maskprep bench: no benchmarks folder (run from a source checkout or pass "
                "--benchmarks)",
                file=sys.stderr,
            )
            return 2
        json_path = args.out / "benchmarks.json"
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
        ]
        if args.keyword:
            cmd += ["-k", args.keyword]
        rc = subprocess.call(cmd, cwd=bench_dir.parent)
        if rc != 0:
            print(f"maskprep bench: the benchmark run failed (pytest exit {rc})", file=sys.stderr)
            return 1
    table = benchreport.rows(json_path)
    (args.out / "report.md").write_text(benchreport.markdown(table))
    _say(args, benchreport.markdown(table))
    try:
        benchreport.plot(table, args.out / "report.png")
    except ImportError:
        print(
            "maskprep bench: the plot needs matplotlib (pip install 'maskprep[bench]'); "
            f"wrote only {args.out / 'report.md'}",
            file=sys.stderr,
        )
        return 1
    _say(args, f"wrote {args.out / 'report.md'} and {args.out / 'report.png'}")
    return 0


def sample_dir() -> Path:
    return Path(str(resources.files("maskprep") / "data" / "sample"))


def cmd_demo(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    src = sample_dir() / "instances.json"
    shutil.copy(src, out / "instances.json")
    _say(args, f"sample: {src} (see ATTRIBUTION.md beside it)")
    ns = argparse.Namespace(
        input=out / "instances.json",
        output=out / "instances_rle.json",
        recompute=True,
        skip_invalid=False,
        num_threads=args.num_threads,
        quiet=args.quiet,
    )
    rc = cmd_convert(ns)
    if rc != 0:
        return rc
    data = coco.load(ns.output)
    total = sum(a["area"] for a in data["annotations"])
    _say(
        args,
        f"{len(data['images'])} images, {len(data['annotations'])} masks, "
        f"{int(total)} foreground pixels in all",
    )
    problems = coco.validate(data)
    _say(
        args,
        f"validate: {sum(p.level == 'error' for p in problems)} error(s), "
        f"{sum(p.level == 'warning' for p in problems)} warning(s)",
    )
    show = argparse.Namespace(
        input=ns.output,
        images=sample_dir() / "images",
        out=out / "overlays",
        ids=None,
        limit=20,
        num_threads=args.num_threads,
        quiet=args.quiet,
    )
    rc = cmd_show(show)
    _say(args, f"outputs in {out.resolve()}: instances_rle.json, overlays/*.png")
    return rc


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.num_threads is not None and (args.num_threads == 0 or args.num_threads < -1):
        print("maskprep: --num-threads must be -1 or a positive integer", file=sys.stderr)
        return 2
    try:
        commands = {
            "convert": cmd_convert,
            "validate": cmd_validate,
            "show": cmd_show,
            "bench": cmd_bench,
            "demo": cmd_demo,
        }
        return commands[args.command](args)
    except FileNotFoundError as exc:
        print(f"maskprep {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
