"""The ``maskprep`` command: whole-dataset jobs on COCO instance files.

Every failure is one line on stderr, ``maskprep: error: ...``, and one of these exit codes:

  0    success
  1    the job found invalid data (nothing written unless --skip-invalid); show: an image file
       that cannot be decoded or is not the size images gives (unless --skip-missing)
  2    bad command-line arguments, or input that cannot be read (missing, not JSON, not a COCO
       instances file, image files missing)
  3    the output cannot be written (its folder is missing or read-only, -o names a folder,
       the disk is full); nothing is left behind
  4    an internal error: a bug in maskprep (MASKPREP_DEBUG=1 prints the traceback)
  130  interrupted by SIGINT (Ctrl-C)
  143  terminated by SIGTERM (cleaned up as for SIGINT: the temporary output is removed and no
       output is written; a file left by SIGKILL is removed by the next run writing it)

Global options (--num-threads, --quiet) go before or after the command. ``-o -`` writes the
JSON to standard output; ``-o`` through a symlink replaces the link's target. Outputs get the
umask's mode (a replaced file keeps its own).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, NoReturn, Optional

import numpy as np

from . import coco

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_OUTPUT, EXIT_BUG = 0, 1, 2, 3, 4
EXIT_SIGINT, EXIT_SIGTERM = 130, 143

EXIT_CODES = (
    "exit codes: 0 success; 1 invalid data; 2 bad arguments or unreadable input; 3 the output\n"
    "cannot be written; 4 a bug in maskprep (MASKPREP_DEBUG=1 shows the traceback); 130 SIGINT;\n"
    "143 SIGTERM"
)

EXAMPLES = {
    "convert": "maskprep convert instances.json -o instances_rle.json --to rle --recompute",
    "boxes": "maskprep boxes instances.json --images val2017/ -o with_masks.json --method grow",
    "validate": "maskprep validate instances.json",
    "show": "maskprep show instances.json --images val2017/ --out overlays/ --ids 139 285",
    "bench": "maskprep bench --out bench-report/",
    "demo": "maskprep demo --out maskprep-demo",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, as every other failure (argparse prints the usage too)."""
        self.exit(EXIT_USAGE, f"maskprep: error: {message} (see {self.prog} --help)\n")


def _global_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    """--num-threads and --quiet, on the main parser and on every command. A command's own
    defaults are SUPPRESS, so that a value given before the command is not reset after it."""
    p.add_argument(
        "--num-threads",
        type=int,
        default=argparse.SUPPRESS if suppress else None,
        metavar="N",
        help="threads (default: MASKPREP_NUM_THREADS, else OMP_NUM_THREADS, else all cores; "
        "-1 = all)",
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print only errors",
    )


def _version() -> str:
    from . import __version__

    return __version__


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="maskprep",
        description="Fast, exact mask preparation for COCO instance datasets.",
        epilog="examples:\n" + "\n".join(f"  {v}" for v in EXAMPLES.values()) + "\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(p, suppress=False)
    p.add_argument("--version", action="version", version=f"maskprep {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=f"example:\n  {EXAMPLES[name]}\n\n{EXIT_CODES}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _global_options(sp, suppress=True)
        return sp

    c = add("convert", "Convert every segmentation of a COCO instances file.")
    c.add_argument("input", type=Path, help="COCO instances JSON (never modified)")
    c.add_argument("-o", "--output", required=True, help="output JSON (- for stdout)")
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
    x.add_argument("-o", "--output", required=True, help="output JSON (- for stdout)")
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
    s.add_argument(
        "--skip-missing",
        action="store_true",
        help="skip images whose file is missing, unreadable or not the size images gives, and "
        "list them (default: missing files are an error before anything is written)",
    )

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


class CliError(Exception):
    """A failure of the command: its one-line message and exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    """Print ``maskprep: error: message`` on stderr and return the exit code."""
    print(f"maskprep: error: {message}", file=sys.stderr)
    return code


def _check_output(args: argparse.Namespace) -> None:
    """Fail before any work when the output cannot be written or is the input."""
    problem = coco.output_problem(args.output)
    if problem is not None:
        raise CliError(problem, EXIT_OUTPUT)
    if args.output != "-" and args.input.resolve() == Path(args.output).resolve():
        raise CliError("the output must not be the input (it is never modified)")


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise coco.OutputError(f"cannot create the folder {path}: {exc.strerror or exc}") from None


def _say(args: argparse.Namespace, *msg: object) -> None:
    """Progress and summaries: on stdout, or on stderr when the JSON goes to stdout (-o -)."""
    if not args.quiet:
        out = sys.stderr if getattr(args, "output", None) == "-" else sys.stdout
        print(*msg, file=out)


def _load(path: Path) -> Dict[str, Any]:
    """The instances file, checked to have the shape of one (ValueError: exit 1)."""
    data = coco.load(path)
    coco.check_structure(data)
    return data


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
        return _fail("--tolerance must be >= 0")
    _check_output(args)
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
        return _fail(str(exc), EXIT_INVALID)
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
            f"{_ids(report.empty)}",
            file=sys.stderr,
        )
    if report.skipped:
        print(
            f"skipped {len(report.skipped)} invalid annotation(s), ids: {_ids(report.skipped)}",
            file=sys.stderr,
        )
    return EXIT_OK


def _ids(ids: List[Any], limit: int = 20) -> str:
    """[1, 2, 3] or [1, 2, ... 20 ids] and N more."""
    text = str(list(ids[:limit]))
    return text + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


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
        return _fail(f"--method {args.method} needs --images DIR")
    if args.method == "maskrcnn" and not args.weights:
        return _fail(
            "--method maskrcnn needs --weights (a state_dict file, or a torchvision weights "
            "name when the network is reachable)",
        )
    if args.tolerance is not None and args.tolerance < 0:
        return _fail("--tolerance must be >= 0")
    _check_output(args)
    if needs_images and not args.images.is_dir():
        return _fail(f"--images {args.images} is not a folder")
    data = _load(args.input)
    try:
        method = _box_method(args)
    except (ImportError, ValueError, OSError, RuntimeError) as exc:
        return _fail(str(exc))
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
        return _fail(str(exc), EXIT_INVALID)
    finally:
        bar.close()
    coco.save(data, args.output)
    _say(args, f"added {report.added} mask(s) with --method {args.method} -> {args.output}")
    for msg, ids in report.image_errors.values():
        print(f"skipped {len(ids)} annotation(s): {msg}", file=sys.stderr)
    other = [i for i in report.skipped if i in report.errors]
    if other:
        print(f"skipped {len(other)} annotation(s), ids: {_ids(other)}", file=sys.stderr)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    data = coco.load(args.input)
    problems = coco.validate(data, num_threads=args.num_threads)
    errors = sum(p.level == "error" for p in problems)
    warnings = len(problems) - errors
    for p in problems:
        if p.level == "error":
            print(p, file=sys.stderr)
        elif not args.quiet:
            print(p)
    anns = data.get("annotations", [])
    _say(
        args,
        f"{args.input}: {len(anns) if isinstance(anns, list) else 0} annotations, "
        f"{errors} error(s), {warnings} warning(s)",
    )
    return EXIT_INVALID if errors or (warnings and args.warnings_as_errors) else EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from PIL import Image

    from . import visualize

    data = _load(args.input)
    images = {im.get("id"): im for im in data.get("images", [])}
    ids = args.ids if args.ids else list(images)[: args.limit]
    missing = [i for i in ids if i not in images]
    if missing:
        return _fail(f"image ids not in {args.input}: {_ids(missing)}")
    if not args.images.is_dir():
        return _fail(f"--images {args.images} is not a folder")
    sizes = coco.image_sizes(data)
    # Every file is looked up before anything is written: a missing one fails the run at once.
    paths: Dict[Any, Path] = {}
    problems: Dict[Any, str] = {}
    for image_id in ids:
        path, names = coco.find_image(args.images, images[image_id])
        if path is None:
            problems[image_id] = (
                f"image {image_id}: no file {' or '.join(names) or '(no file_name)'}"
            )
        else:
            paths[image_id] = path
    if problems and not args.skip_missing:
        return _fail(
            f"{len(problems)} image file(s) not found in {args.images}: "
            f"{coco.join_limited(list(problems.values()))} (--skip-missing draws the others)",
        )
    names = {c.get("id"): c.get("name", str(c.get("id"))) for c in data.get("categories", [])}
    by_image: dict = {}
    for a in data.get("annotations", []):
        by_image.setdefault(a.get("image_id"), []).append(a)
    _make_dir(args.out)
    written, not_drawn = 0, []
    for image_id, path in paths.items():
        h, w = sizes[image_id]
        try:
            with Image.open(path) as f:
                pixels = np.asarray(f.convert("RGB"))
        except (OSError, ValueError) as exc:  # PIL's UnidentifiedImageError is an OSError
            problems[image_id] = f"image {image_id}: {path} cannot be read: {exc}"
            continue
        if pixels.shape[:2] != (h, w):
            problems[image_id] = (
                f"image {image_id}: {path} is {pixels.shape[1]}x{pixels.shape[0]} but images "
                f"says {w}x{h}"
            )
            continue
        anns = [a for a in by_image.get(image_id, []) if a.get("segmentation") or "bbox" in a]
        with_mask = [a for a in anns if a.get("segmentation")]
        rles, errors = coco.rles_or_errors(
            [a["segmentation"] for a in with_mask],
            [h] * len(with_mask),
            [w] * len(with_mask),
            [a.get("id") for a in with_mask],
            num_threads=args.num_threads,
        )
        not_drawn += list(errors)
        mask_of = {id(a): r for a, r in zip(with_mask, rles)}
        boxes = [a.get("bbox") for a in anns]
        if not all(coco._box_error(b) is None for b in boxes):
            boxes = None
        picture = visualize.overlay(
            pixels,
            [mask_of.get(id(a)) for a in anns],
            boxes=boxes,
            labels=[names.get(a.get("category_id"), a.get("category_id")) for a in anns],
        )
        target = args.out / f"{image_id}.png"
        try:
            Image.fromarray(picture).save(target)
        except OSError as exc:
            raise coco.OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
        written += 1
    _say(args, f"wrote {written} overlay(s) to {args.out}")
    if not_drawn:
        print(
            f"{len(not_drawn)} invalid segmentation(s) not drawn (see maskprep validate), ids: "
            f"{_ids(not_drawn)}",
            file=sys.stderr,
        )
    if problems:
        listed = coco.join_limited(list(problems.values()))
        if args.skip_missing:
            print(f"skipped {len(problems)} image(s): {listed}", file=sys.stderr)
        else:
            return _fail(f"{len(problems)} image(s) cannot be shown: {listed}", 1)
    return EXIT_OK


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

    _make_dir(args.out)
    json_path = args.from_json
    if json_path is None:
        bench_dir = _benchmark_dir(args.benchmarks)
        if bench_dir is None:
            return _fail("no benchmarks folder (run from a source checkout or pass --benchmarks)")
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
            return _fail(f"the benchmark run failed (pytest exit {rc})", 1)
        if not json_path.exists():
            return _fail(
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
        return _fail(
            "the plot needs matplotlib (pip install 'maskprep[bench]'); "
            f"wrote only {args.out / 'report.md'}",
            EXIT_INVALID,
        )
    _say(args, f"wrote {args.out / 'report.md'} and {args.out / 'report.png'}")
    return 0


def sample_dir() -> Path:
    return Path(str(resources.files("maskprep") / "data" / "sample"))


def cmd_demo(args: argparse.Namespace) -> int:
    out: Path = args.out
    _make_dir(out)
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
        skip_missing=False,
        num_threads=args.num_threads,
        quiet=args.quiet,
    )
    rc = cmd_show(show)
    _say(args, f"outputs in {out.resolve()}: instances_rle.json, overlays/*.png")
    return rc


class _Terminated(BaseException):
    """Raised by the SIGTERM handler: unwinds like KeyboardInterrupt, so that temporary files
    are removed on the way out."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated


COMMANDS = {
    "convert": cmd_convert,
    "boxes": cmd_boxes,
    "validate": cmd_validate,
    "show": cmd_show,
    "bench": cmd_bench,
    "demo": cmd_demo,
}


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command and return its exit code (see the module docstring); argparse raises
    SystemExit for --help (0) and bad arguments (2, one line on stderr)."""
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:
        pass  # not the main thread: SIGTERM keeps its handler
    try:
        return _main(argv)
    except KeyboardInterrupt:  # before the command started (imports, parsing)
        return _fail("interrupted (SIGINT)", EXIT_SIGINT)
    except _Terminated:
        return _fail("terminated (SIGTERM)", EXIT_SIGTERM)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: Optional[List[str]]) -> int:
    from .shards_cli import dispatch  # several shards, a folder, a glob or --engine (issue 12)

    code = dispatch(argv)
    if code is not None:
        return code
    args = _parser().parse_args(argv)  # SystemExit for --help (0) and bad arguments (2)
    if args.num_threads is not None and (args.num_threads == 0 or args.num_threads < -1):
        return _fail("--num-threads must be -1 or a positive integer")
    try:
        return COMMANDS[args.command](args)
    except CliError as exc:
        return _fail(str(exc), exc.code)
    except KeyboardInterrupt:
        return _fail("interrupted (SIGINT); no output written", EXIT_SIGINT)
    except _Terminated:
        return _fail("terminated (SIGTERM); no output written", EXIT_SIGTERM)
    except coco.OutputError as exc:
        return _fail(str(exc), EXIT_OUTPUT)
    except coco.UnreadableInput as exc:
        return _fail(str(exc), EXIT_USAGE)
    except OSError as exc:  # reading the input: outputs raise OutputError
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"cannot read {where}{exc.strerror or exc}", EXIT_USAGE)
    except ValueError as exc:  # the library's error for invalid values: the data's
        return _fail(str(exc), EXIT_INVALID)
    except Exception as exc:  # noqa: BLE001 - the contract: one line, never a traceback
        if os.environ.get("MASKPREP_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        name = type(exc).__name__
        return _fail(
            f"internal error, a bug in maskprep ({name}: {exc}); please report it "
            "(MASKPREP_DEBUG=1 prints the traceback)",
            EXIT_BUG,
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
