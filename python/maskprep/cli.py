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

    d = add("demo", "Run convert on the bundled sample (4 COCO val2017 images, CC BY).")
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
    if rc == 0:
        data = coco.load(ns.output)
        total = sum(a["area"] for a in data["annotations"])
        _say(
            args,
            f"{len(data['images'])} images, {len(data['annotations'])} masks, "
            f"{int(total)} foreground pixels in all",
        )
        _say(args, f"outputs in {out.resolve()}")
    return rc


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.num_threads is not None and (args.num_threads == 0 or args.num_threads < -1):
        print("maskprep: --num-threads must be -1 or a positive integer", file=sys.stderr)
        return 2
    try:
        return {"convert": cmd_convert, "demo": cmd_demo}[args.command](args)
    except FileNotFoundError as exc:
        print(f"maskprep {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
