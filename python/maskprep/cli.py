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

import numpy as np

from . import coco

EXAMPLES = {
    "convert": "maskprep convert instances.json -o instances_rle.json --to rle --recompute",
    "boxes": "maskprep boxes instances.json --images val2017/ -o with_masks.json --method grow",
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
    c.add_argument(
        "--to",
        choices=["rle", "polygon"],
        default="rle",
        help="rle: compressed COCO RLE, as pycocotools writes it; polygon: traced outlines "
        "(crowd annotations stay RLE) (default: rle)",
    )
    c.add_argument(
        "--tolerance",
        type=float,
        default=0.0,
        metavar="PX",
        help="--to polygon: simplify outlines by up to this many pixels (default 0: exact)",
    )
    c.add_argument("--recompute", action="store_true", help="recompute area and bbox from masks")
    c.add_argument(
        "--skip-invalid",
        action="store_true",
        help="leave unconvertible annotations as they are and list their ids",
    )

    x = add("boxes", "Add a mask to every annotation that has only a bbox.")
    x.add_argument("input", type=Path, help="COCO instances JSON (never modified)")
    x.add_argument("-o", "--output", type=Path, required=True, help="output JSON")
    x.add_argument(
        "--method",
        choices=["box", "ellipse", "grow", "maskrcnn"],
        default="box",
        help="box: the filled box (pycocotools frBbox); ellipse: the inscribed ellipse; grow: "
        "Otsu or flood fill inside the box on the image; maskrcnn: Mask R-CNN's mask head "
        "prompted with the box (needs --weights) (default: box)",
    )
    x.add_argument("--images", type=Path, help="folder of the image files (grow, maskrcnn)")
    x.add_argument("--seed", choices=["otsu", "flood"], default="otsu", help="grow: how to segment")
    x.add_argument("--tolerance", type=float, default=None, help="grow --seed flood: grey levels")
    x.add_argument(
        "--weights",
        default=None,
        help="maskrcnn: a state_dict file (.pth), or a torchvision weights name when online",
    )
    x.add_argument(
        "--arch", choices=["v1", "v2"], default="v1", help="maskrcnn: maskrcnn_resnet50_fpn(_v2)"
    )
    x.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="maskrcnn")
    x.add_argument(
        "--use-labels",
        action="store_true",
        help="maskrcnn: take each box's category_id as the model's class (COCO ids match "
        "torchvision's COCO weights); default: class-agnostic masks",
    )
    x.add_argument("--overwrite", action="store_true", help="replace existing segmentations too")
    x.add_argument(
        "--skip-invalid",
        action="store_true",
        help="leave annotations with bad boxes or unreadable images as they are; list their ids",
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


def _fail(command: str, message: str, code: int = 2) -> int:
    """Print ``maskprep COMMAND: message`` on stderr and return the exit code."""
    print(f"maskprep {command}: {message}", file=sys.stderr)
    return code


def _same_file(command: str, args: argparse.Namespace) -> Optional[int]:
    if args.input.resolve() == args.output.resolve():
        return _fail(command, "the output must not be the input (it is never modified)")
    return None


def _say(args: argparse.Namespace, *msg: object) -> None:
    if not args.quiet:
        print(*msg)


class _Progress:
    """A tqdm bar on stderr for ``progress(done, total)`` callbacks; off with --quiet and when
    stderr is not a terminal (logs stay clean)."""

    def __init__(self, args: argparse.Namespace, desc: str, unit: str = "ann") -> None:
        self.args, self.desc, self.unit, self.bar = args, desc, unit, None

    def __call__(self, done: int, total: int) -> None:
        if getattr(self.args, "quiet", False):
            return  # not even the import: tqdm's first bar costs ~0.1 s of multiprocessing setup
        if self.bar is None:
            from tqdm import tqdm

            # disable=None: no bar when stderr is not a terminal
            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, disable=None, leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_convert(args: argparse.Namespace) -> int:
    if args.tolerance < 0:
        return _fail("convert", "--tolerance must be >= 0")
    if (rc := _same_file("convert", args)) is not None:
        return rc
    t0 = time.perf_counter()
    bar = _Progress(args, "convert")
    try:
        report = coco.convert_file(
            args.input,
            args.output,
            to=args.to,
            recompute=args.recompute,
            skip_invalid=args.skip_invalid,
            tolerance=args.tolerance,
            num_threads=args.num_threads,
            progress=bar,
        )
    except ValueError as exc:
        if isinstance(exc, coco.UnreadableInput):
            raise
        return _fail("convert", str(exc), 1)
    finally:
        bar.close()
    _say(
        args,
        f"converted {report.converted} annotations ({report.polygons} polygon, "
        f"{report.rles} RLE) to {args.to} -> {args.output} in {time.perf_counter() - t0:.2f} s",
    )
    if report.kept:
        _say(args, f"kept {len(report.kept)} crowd annotation(s) as RLE (COCO's rule for crowds)")
    if report.empty:
        print(
            f"{len(report.empty)} annotation(s) have an empty mask (segmentation []), ids: "
            f"{report.empty}",
            file=sys.stderr,
        )
    if report.skipped:
        print(
            f"skipped {len(report.skipped)} invalid annotation(s), ids: {report.skipped}",
            file=sys.stderr,
        )
    return 0


def _box_method(args: argparse.Namespace):
    """masks_for_image(boxes_xywh, image, size) for --method, as coco.add_box_masks wants it."""
    from . import boxes

    if args.method != "maskrcnn":
        options = {"seed": args.seed, "tolerance": args.tolerance} if args.method == "grow" else {}

        def masks(b, image, size, categories):
            return boxes.boxes_to_masks(
                b, size, method=args.method, image=image, num_threads=args.num_threads, **options
            )

        return masks
    from . import models

    model = models.MaskRCNN(
        arch=args.arch, weights=args.weights, device=args.device, num_threads=args.num_threads
    )

    def refine(b, image, size, categories):
        xyxy = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)
        return model.refine_boxes(image, xyxy, labels=categories if args.use_labels else None)

    return refine


def cmd_boxes(args: argparse.Namespace) -> int:
    needs_images = args.method in ("grow", "maskrcnn")
    if needs_images and args.images is None:
        return _fail("boxes", f"--method {args.method} needs --images DIR")
    if args.method == "maskrcnn" and not args.weights:
        return _fail(
            "boxes",
            "--method maskrcnn needs --weights (a state_dict file, or a torchvision weights "
            "name when the network is reachable)",
        )
    if args.tolerance is not None and args.tolerance < 0:
        return _fail("boxes", "--tolerance must be >= 0")
    if (rc := _same_file("boxes", args)) is not None:
        return rc
    if needs_images and not args.images.is_dir():
        return _fail("boxes", f"--images {args.images} is not a folder")
    data = coco.load(args.input)
    try:
        method = _box_method(args)
    except (ImportError, ValueError, OSError, RuntimeError) as exc:
        return _fail("boxes", str(exc))
    bar = _Progress(args, f"boxes ({args.method})")
    try:
        report = coco.add_box_masks(
            data,
            method,
            images_dir=args.images if needs_images else None,
            overwrite=args.overwrite,
            skip_invalid=args.skip_invalid,
            progress=bar,
        )
    except ValueError as exc:
        return _fail("boxes", str(exc), 1)
    finally:
        bar.close()
    coco.save(data, args.output)
    _say(args, f"added {report.added} mask(s) with --method {args.method} -> {args.output}")
    if report.skipped:
        print(
            f"skipped {len(report.skipped)} annotation(s), ids: {report.skipped}", file=sys.stderr
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
        return _fail("show", f"image ids not in {args.input}: {missing}")
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
            return _fail("show", f"{path} not found")
        pixels = np.asarray(Image.open(path).convert("RGB"))
        anns = [a for a in by_image.get(image_id, []) if a.get("segmentation") or "bbox" in a]
        with_mask = [a for a in anns if a.get("segmentation")]
        rles = rle.from_segmentations(
            [a["segmentation"] for a in with_mask],
            im["height"],
            im["width"],
            num_threads=args.num_threads,
        )
        mask_of = {id(a): r for a, r in zip(with_mask, rles)}
        picture = visualize.overlay(
            pixels,
            [mask_of.get(id(a)) for a in anns],
            boxes=[a["bbox"] for a in anns] if all("bbox" in a for a in anns) else None,
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
            # all selected cases skipped (e.g. no ../shared/data): reported below, not a failure
            "-W",
            "ignore:Not saving anything:pytest_benchmark.logger.PytestBenchmarkWarning",
        ]
        if args.keyword:
            cmd += ["-k", args.keyword]
        json_path.unlink(missing_ok=True)
        rc = subprocess.call(cmd, cwd=bench_dir.parent)
        if rc not in (0, 5):  # 5: pytest selected nothing, reported below
            return _fail("bench", f"the benchmark run failed (pytest exit {rc})", 1)
        if not json_path.exists():
            return _fail(
                "bench",
                "no benchmark ran: every selected case was skipped or deselected (most need "
                "the real data in ../shared/data; see pytest's skip reasons above)",
                1,
            )
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
        to="rle",
        tolerance=0.0,
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
            "boxes": cmd_boxes,
            "validate": cmd_validate,
            "show": cmd_show,
            "bench": cmd_bench,
            "demo": cmd_demo,
        }
        return commands[args.command](args)
    except (FileNotFoundError, IsADirectoryError, coco.UnreadableInput) as exc:
        print(f"maskprep {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
