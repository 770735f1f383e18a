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
import math
import os
import shutil
import signal
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, NoReturn, Optional

from . import coco

__all__ = ["main", "sample_dir"]

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
    "export": "maskprep export instances.json --format yolo -o yolo-dataset/",
    "import": "maskprep import yolo-dataset/ --format yolo -o instances.json",
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
    _gt_option(c)

    x = add("boxes", "Add a mask to every annotation that has only a bbox.")
    x.add_argument("input", type=Path, help="COCO instances JSON (never modified)")
    x.add_argument("-o", "--output", required=True, help="output JSON (- for stdout)")
    x.add_argument(
        "--method",
        choices=coco.BOX_METHODS,
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
    _gt_option(v)

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
    _gt_option(s)
    s.add_argument(
        "--score-threshold",
        type=float,
        default=None,
        metavar="T",
        help="results file: draw the detections scoring at least T (default 0.5)",
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

    from .formats import EXPORTERS, IMPORTERS  # light: each format's module loads on use

    e = add("export", "Write a COCO instances file (or shards) in another format (issue 14).")
    e.add_argument("input", help="COCO instances JSON, or shards: a folder or a (quoted) glob")
    e.add_argument("--format", required=True, choices=list(EXPORTERS), help="output format")
    e.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    e.add_argument(
        "--crowd",
        choices=["polygon", "skip"],
        default="polygon",
        help="yolo: crowd RLEs traced to polygons, or left out and listed (default: polygon)",
    )
    e.add_argument("--split", default=None, help="yolo: a subfolder of images/ and labels/")
    e.add_argument(
        "--skip-invalid",
        action="store_true",
        help="write what can be converted and list the rest (default: exit 1, nothing written)",
    )

    i = add("import", "Read a dataset in another format as a COCO instances file (issue 14).")
    i.add_argument("input", type=Path, help="the dataset: a folder, a file or a (quoted) glob")
    i.add_argument("--format", required=True, choices=list(IMPORTERS), help="input format")
    i.add_argument("--images", type=Path, default=None, help="folder of the image files")
    i.add_argument(
        "-o",
        "--output",
        required=True,
        help="output JSON (- for stdout); a folder with --shard-size",
    )
    i.add_argument(
        "--to",
        choices=["rle", "polygon"],
        default=None,
        help="segmentations as compressed RLE or polygons (default: polygon for yolo and "
        "labelme, rle for the PNG formats)",
    )
    i.add_argument(
        "--skip-invalid",
        action="store_true",
        help="write what can be converted and list the rest (default: exit 1, nothing written)",
    )
    i.add_argument(
        "--shard-size",
        type=int,
        default=None,
        metavar="N",
        help="write shards of N images each into the folder -o (part-00000.json, ...), the "
        "input of the sharded jobs",
    )
    i.add_argument(
        "--out-format",
        choices=["coco", "sa1b", "jsonl", "parquet"],
        default=None,
        help="with --shard-size: the shards' layout (default: coco; sa1b holds one image, so "
        "it needs --shard-size 1; parquet holds RLEs, so it imports as --to rle)",
    )
    return p


def _gt_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--gt",
        type=Path,
        default=None,
        metavar="GT.json",
        help="the input is a COCO results file (a JSON list of detections); GT.json is the "
        "instances file it was predicted on (its image sizes, ids and categories)",
    )


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
        self.args, self.desc, self.unit = args, desc, unit
        self.bar: Any = None

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


def _is_results(args: argparse.Namespace, command: str) -> bool:
    """True for a results file with --gt (issue 14); a results file without --gt is an error
    that says so, before anything is read whole."""
    from .formats.results import is_results_file

    if getattr(args, "gt", None) is not None:
        return True
    if is_results_file(args.input):
        if command == "boxes":
            raise CliError(
                f"{args.input} is a COCO results file (a JSON list); boxes adds masks to the "
                "annotations of a COCO instances file"
            )
        raise CliError(
            f"{args.input} is a COCO results file (a JSON list); a results file needs --gt "
            "GT.json (the instances file it was predicted on)"
        )
    return False


def cmd_convert(args: argparse.Namespace) -> int:
    if args.tolerance < 0:
        return _fail("--tolerance must be >= 0")
    if _is_results(args, "convert"):
        return _convert_results(args)
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
    _convert_summary(args, report, args.to, args.output, time.perf_counter() - t0)
    return EXIT_OK


def _convert_summary(
    args: argparse.Namespace, report: coco.ConvertReport, to: str, output: Any, seconds: float
) -> None:
    _say(
        args,
        f"converted {report.converted} annotations ({report.polygons} polygon, "
        f"{report.rles} RLE) to {to} -> {output} in {seconds:.2f} s",
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


def _ids(ids: List[Any], limit: int = 20) -> str:
    """[1, 2, 3] or [1, 2, ... 20 ids] and N more."""
    text = str(list(ids[:limit]))
    return text + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _convert_results(args: argparse.Namespace) -> int:
    from .formats import results

    if args.skip_invalid:
        return _fail(
            "--skip-invalid is for instances files (maskprep validate lists the results' problems)"
        )
    _check_output(args)
    t0 = time.perf_counter()
    bar = _Progress(args, "convert", unit="result")
    try:
        report = results.convert_results_file(
            args.input,
            args.output,
            args.gt,
            to=args.to,
            recompute=args.recompute,
            tolerance=args.tolerance,
            num_threads=args.num_threads,
            progress=bar,
        )
    finally:
        bar.close()
    _say(
        args,
        f"converted {report.converted} results ({report.polygons} polygon, {report.rles} RLE) "
        f"to {args.to} -> {args.output} in {time.perf_counter() - t0:.2f} s",
    )
    if report.empty:
        print(
            f"{len(report.empty)} result(s) have an empty mask (segmentation []), indices: "
            f"{_ids(report.empty)}",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_boxes(args: argparse.Namespace) -> int:
    _is_results(args, "boxes")
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
        method = coco.masks_for_method(
            args.method,
            seed=args.seed,
            tolerance=args.tolerance,
            arch=args.arch,
            weights=args.weights,
            device=args.device,
            use_labels=args.use_labels,
            num_threads=args.num_threads,
        )
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
    if _is_results(args, "validate"):
        return _validate_results(args)
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


def _validate_results(args: argparse.Namespace) -> int:
    from .formats import results

    res = results.load_results(args.input)
    problems = results.validate_results(res, args.gt, num_threads=args.num_threads)
    errors = sum(p.level == "error" for p in problems)
    for p in problems:
        if p.level == "error":
            print(p, file=sys.stderr)
        elif not args.quiet:
            print(p)
    warnings = len(problems) - errors
    _say(args, f"{args.input}: {len(res)} results, {errors} error(s), {warnings} warning(s)")
    return EXIT_INVALID if errors or (warnings and args.warnings_as_errors) else EXIT_OK


def _show_results(args: argparse.Namespace) -> int:
    from .formats import results

    threshold = 0.5 if args.score_threshold is None else args.score_threshold
    if not math.isfinite(threshold):
        return _fail(f"--score-threshold must be a finite number, got {threshold}")
    data, left_out = results.results_to_instances(
        results.load_results(args.input),
        args.gt,
        score_threshold=threshold,
        num_threads=args.num_threads,
    )
    data["annotations"].sort(key=lambda a: a["score"])  # the best drawn last, on top
    images = list(dict.fromkeys(im.get("id") for im in data["images"]))
    if args.ids:
        ids = args.ids
        missing = [i for i in ids if i not in set(images)]
        if missing:
            return _fail(f"image ids not in {args.gt}: {_ids(missing)}")
    else:
        detected = {a["image_id"] for a in data["annotations"]}
        ids = [i for i in images if i in detected][: args.limit]
    if not args.images.is_dir():
        return _fail(f"--images {args.images} is not a folder")
    if left_out:
        listed = coco.join_limited([f"result {k}: {m}" for k, m in left_out.items()])
        print(
            f"{len(left_out)} result(s) not drawn (see maskprep validate): {listed}",
            file=sys.stderr,
        )
    _say(args, f"{len(data['annotations'])} detection(s) with score >= {threshold}")
    return _show(args, data, args.images, args.out, ids, args.skip_missing)


def cmd_show(args: argparse.Namespace) -> int:
    if _is_results(args, "show"):
        return _show_results(args)
    if args.score_threshold is not None:
        return _fail("--score-threshold is for a results file (with --gt GT.json)")
    data = _load(args.input)
    images = list(dict.fromkeys(im.get("id") for im in data.get("images", [])))
    ids = args.ids if args.ids else images[: args.limit]
    missing = [i for i in ids if i not in set(images)]
    if missing:
        return _fail(f"image ids not in {args.input}: {_ids(missing)}")
    if not args.images.is_dir():
        return _fail(f"--images {args.images} is not a folder")
    return _show(args, data, args.images, args.out, ids, args.skip_missing)


def _show(
    args: argparse.Namespace,
    data: Dict[str, Any],
    images: Path,
    out: Path,
    ids: List[Any],
    skip_missing: bool,
) -> int:
    """:func:`maskprep.visualize.write_overlays` and its summary."""
    from . import visualize

    report = visualize.write_overlays(
        data, images, out, ids, skip_missing=skip_missing, num_threads=args.num_threads
    )
    _say(args, f"wrote {report.written} overlay(s) to {out}")
    if report.not_drawn:
        print(
            f"{len(report.not_drawn)} invalid segmentation(s) not drawn (see maskprep validate), "
            f"ids: {_ids(report.not_drawn)}",
            file=sys.stderr,
        )
    if report.problems:
        listed = coco.join_limited(list(report.problems.values()))
        if skip_missing:
            print(f"skipped {len(report.problems)} image(s): {listed}", file=sys.stderr)
        else:
            return _fail(f"{len(report.problems)} image(s) cannot be shown: {listed}", 1)
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from . import benchreport

    coco.make_dir(args.out)
    json_path = args.from_json
    if json_path is None:
        bench_dir = benchreport.benchmark_dir(args.benchmarks)
        if bench_dir is None:
            return _fail("no benchmarks folder (run from a source checkout or pass --benchmarks)")
        json_path = args.out / "benchmarks.json"
        try:
            benchreport.run(bench_dir, json_path, keyword=args.keyword)
        except benchreport.BenchmarkRunFailed as exc:
            return _fail(str(exc), EXIT_INVALID)
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
    """The bundled sample: 4 COCO val2017 images and their instances (see its ATTRIBUTION.md).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> sorted(p.name for p in sample_dir().iterdir())
    ['ATTRIBUTION.md', 'images', 'instances.json']
    """
    return Path(str(resources.files("maskprep") / "data" / "sample"))


def cmd_demo(args: argparse.Namespace) -> int:
    out: Path = args.out
    coco.make_dir(out)
    src = sample_dir() / "instances.json"
    shutil.copy(src, out / "instances.json")
    _say(args, f"sample: {src} (see ATTRIBUTION.md beside it)")
    converted = out / "instances_rle.json"
    t0 = time.perf_counter()
    report = coco.convert_file(
        out / "instances.json", converted, recompute=True, num_threads=args.num_threads
    )
    _convert_summary(args, report, "rle", converted, time.perf_counter() - t0)
    data = coco.load(converted)
    total = sum(a["area"] for a in data["annotations"])
    _say(
        args,
        f"{len(data['images'])} images, {len(data['annotations'])} masks, "
        f"{int(total)} foreground pixels in all",
    )
    problems = coco.validate(data, num_threads=args.num_threads)
    _say(
        args,
        f"validate: {sum(p.level == 'error' for p in problems)} error(s), "
        f"{sum(p.level == 'warning' for p in problems)} warning(s)",
    )
    coco.check_structure(data)
    ids = list(dict.fromkeys(im.get("id") for im in data["images"]))[:20]
    rc = _show(args, data, sample_dir() / "images", out / "overlays", ids, False)
    _say(args, f"outputs in {out.resolve()}: instances_rle.json, overlays/*.png")
    return rc


def _export_input(source: str) -> Dict[str, Any]:
    """One COCO dict from a .json file, or the shards of a folder or glob merged into one
    (images and annotations concatenated, categories merged by id; ids must not repeat)."""
    from . import shards

    if os.path.isfile(source) and source.endswith(".json"):
        return _load(Path(source))
    try:
        found = shards.find_shards(source)
        parts = [shards.read_shard(path) for path, _ in found]
    except ValueError as exc:
        raise coco.UnreadableInput(str(exc)) from None
    merged: Dict[str, Any] = {"images": [], "annotations": [], "categories": []}
    names: Dict[Any, Any] = {}
    for (path, _), part in zip(found, parts):
        coco.check_structure(part)
        merged["images"] += part.get("images", [])
        merged["annotations"] += part.get("annotations", [])
        for c in part.get("categories", []):
            if c.get("id") in names and names[c.get("id")] != c.get("name"):
                raise ValueError(f"{path}: category {c.get('id')!r} has another name elsewhere")
            if c.get("id") not in names:
                names[c.get("id")] = c.get("name")
                merged["categories"].append(c)
    for key in ("images", "annotations"):
        ids = [x.get("id") for x in merged[key]]
        if len(set(ids)) != len(ids):
            raise ValueError(f"the shards' {key} ids repeat: they cannot be exported as one")
    return merged


def _format_report(args: argparse.Namespace, report: Any) -> None:
    """Every object left out, one line each on stderr; the notes on stdout."""
    for s in report.skipped:
        print(f"skipped: {s}", file=sys.stderr)
    for note in report.notes:
        _say(args, note)


def cmd_export(args: argparse.Namespace) -> int:
    from . import formats

    options: Dict[str, Any] = {"skip_invalid": args.skip_invalid}
    if args.format == "yolo":
        options.update(crowd=args.crowd, split=args.split)
    elif args.crowd != "polygon" or args.split is not None:
        return _fail("--crowd and --split are options of --format yolo")
    if args.output.exists() and not args.output.is_dir():
        raise CliError(f"{args.output} is a file; -o needs a folder", EXIT_OUTPUT)
    t0 = time.perf_counter()
    report = None
    if args.format == "yolo" and os.path.isfile(args.input) and args.input.endswith(".json"):
        from .formats import yolo

        # straight from the text when the file is regular; None: the general path below
        report = yolo.write_regular(
            args.input, args.output, num_threads=args.num_threads, options=options
        )
    if report is None:
        data = _export_input(args.input)
        t0 = time.perf_counter()
        try:
            report = formats.EXPORTERS[args.format](
                data, args.output, num_threads=args.num_threads, options=options
            )
        except ImportError as exc:
            return _fail(str(exc))
        except ValueError as exc:
            if isinstance(exc, coco.UnreadableInput):
                raise
            return _fail(f"{exc}; nothing written (--skip-invalid writes the rest)", EXIT_INVALID)
    _format_report(args, report)
    _say(
        args,
        f"exported {report.objects} object(s) in {report.files} file(s) as {args.format} -> "
        f"{args.output} in {time.perf_counter() - t0:.2f} s"
        + (f"; skipped {len(report.skipped)} (listed above)" if report.skipped else ""),
    )
    return EXIT_OK


def _check_shard_options(args: argparse.Namespace) -> None:
    """--shard-size and --out-format, checked before the import reads anything."""
    if args.shard_size is None:
        if args.out_format is not None:
            raise CliError("--out-format needs --shard-size (without it -o is one COCO file)")
        return
    if args.shard_size < 1:
        raise CliError(f"--shard-size must be a positive integer, got {args.shard_size}")
    if args.out_format == "sa1b" and args.shard_size != 1:
        raise CliError("--out-format sa1b holds one image per file: it needs --shard-size 1")
    if args.out_format == "parquet":
        if args.to == "polygon":
            raise CliError("--out-format parquet holds compressed RLEs: it needs --to rle")
        from .formats.sharded import _check_pyarrow

        try:
            _check_pyarrow()  # before the import reads the whole dataset
        except ImportError as exc:
            raise CliError(str(exc)) from None
    if args.output == "-":
        raise CliError("-o - (standard output) cannot hold shards; --shard-size needs a folder")
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise CliError(f"{args.output} is a file; -o with --shard-size needs a folder", EXIT_OUTPUT)


def cmd_import(args: argparse.Namespace) -> int:
    from . import formats

    _check_shard_options(args)
    if args.shard_size is None:
        problem = coco.output_problem(args.output)
        if problem is not None:
            raise CliError(problem, EXIT_OUTPUT)
    if args.images is not None and not args.images.is_dir():
        return _fail(f"--images {args.images} is not a folder")
    to = args.to or formats.DEFAULT_TO.get(args.format, "rle")
    if args.out_format == "parquet":
        to = "rle"  # the only segmentation a Parquet shard holds (--to polygon failed above)
    t0 = time.perf_counter()
    try:
        data, report = formats.IMPORTERS[args.format](
            args.input, images=args.images, to=to, num_threads=args.num_threads, options={}
        )
    except ImportError as exc:
        return _fail(str(exc))
    if report.skipped and not args.skip_invalid:
        for s in report.skipped:
            print(f"cannot import: {s}", file=sys.stderr)
        return _fail(
            f"{len(report.skipped)} object(s) or file(s) cannot be imported (listed above); "
            "nothing written (--skip-invalid writes the rest)",
            EXIT_INVALID,
        )
    if args.shard_size is None:
        coco.save(data, args.output)
        where = args.output
    else:
        out_format = args.out_format or "coco"
        try:
            paths = formats.write_shards(
                data, args.output, images_per_shard=args.shard_size, out_format=out_format
            )
        except OSError as exc:
            raise coco.OutputError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        where = f"{len(paths)} {out_format} shard(s) in {args.output}"
    _format_report(args, report)
    _say(
        args,
        f"imported {len(data.get('annotations', []))} object(s) from {report.files} file(s) "
        f"({args.format}, {to}) -> {where} in {time.perf_counter() - t0:.2f} s"
        + (f"; skipped {len(report.skipped)} (listed above)" if report.skipped else ""),
    )
    return EXIT_OK


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
    "export": cmd_export,
    "import": cmd_import,
}


def main(argv: Optional[List[str]] = None) -> int:
    """Run the ``maskprep`` command and return its exit code (see the module docstring).

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``maskprep`` (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code: 0 success, 1 invalid data, 2 bad arguments or unreadable input, 3 the
        output cannot be written, 4 a bug, 130 SIGINT, 143 SIGTERM. Every failure prints one
        line, ``maskprep: error: ...``, on stderr.

    Raises
    ------
    SystemExit
        From argparse: for ``--help`` and ``--version`` (0) and bad arguments (2, one line on
        stderr).

    Examples
    --------
    >>> main(["validate", str(sample_dir() / "instances.json"), "--quiet"])
    0
    """
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
