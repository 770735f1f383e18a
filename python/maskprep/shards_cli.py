"""The sharded form of ``maskprep convert``, ``validate`` and ``boxes``: several shards, a
folder or a glob, ``-o OUTDIR``, ``--engine local|ray``. :mod:`maskprep.cli` hands an invocation here
when :func:`is_sharded` says so; the single-file commands are unchanged."""

from __future__ import annotations

import argparse
import glob
import os
import sys
from typing import Any, Dict, List, Optional

COMMANDS = ("convert", "validate", "boxes")


class _Quiet(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # detection: a parse failure means "not sharded"
        raise ValueError(message)


def _parser(cls: type = argparse.ArgumentParser) -> argparse.ArgumentParser:
    p = cls(prog="maskprep", add_help=False)
    p.add_argument("command", choices=COMMANDS)
    p.add_argument("inputs", nargs="+", help="shards: files, folders or globs (quote the glob)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--to", choices=["rle", "polygon"], default="rle")
    p.add_argument("--recompute", action="store_true")
    p.add_argument("--skip-invalid", action="store_true")
    p.add_argument("--out-format", choices=["coco", "sa1b", "jsonl", "parquet"], default=None)
    p.add_argument("--engine", choices=["local", "ray"], default="local")
    p.add_argument("--address", default=None, help="--engine ray: the cluster (default: local)")
    p.add_argument("--no-resume", action="store_true", help="redo shards that are already done")
    p.add_argument("--num-threads", type=int, default=None)
    p.add_argument("--quiet", action="store_true")
    # boxes: maskprep boxes' options (see cli.py for their help)
    p.add_argument("--method", default=None)
    p.add_argument("--images", default=None)
    p.add_argument("--seed", choices=["otsu", "flood"], default=None)
    p.add_argument("--tolerance", type=float, default=None)
    p.add_argument("--weights", default=None)
    p.add_argument("--arch", choices=["v1", "v2"], default=None)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    p.add_argument("--use-labels", action="store_true", default=None)
    p.add_argument("--overwrite", action="store_true", default=None)
    return p


def _box_options(args: argparse.Namespace) -> Optional[Dict[str, Any]]:
    """The boxes job's options given on the command line (None for convert and validate, which
    refuse them: a boxes option there is a usage error)."""
    names = ("method", "images", "seed", "tolerance", "weights", "arch", "device", "use_labels")
    given = {k: getattr(args, k) for k in names + ("overwrite",) if getattr(args, k) is not None}
    if args.command != "boxes":
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise ValueError(f"{flags} are options of boxes, not of {args.command}")
        return None
    method = given.get("method", "box")
    if method in ("grow", "maskrcnn") and "images" not in given:
        raise ValueError(f"--method {method} needs --images DIR")  # as the single-file boxes
    if method == "maskrcnn" and "weights" not in given:
        raise ValueError("--method maskrcnn needs --weights (a state_dict file)")
    return given


def is_sharded(argv: List[str]) -> bool:
    """True for ``convert``/``validate`` with several inputs, a folder or glob input or
    ``--engine``: the single-file commands never take those (one file with a folder as -o stays
    the single-file command's error)."""
    try:
        args = _parser(_Quiet).parse_args(argv)
    except ValueError:
        return False
    return (
        any(a == "--engine" or a.startswith("--engine=") for a in argv)
        or len(args.inputs) > 1
        or any(os.path.isdir(i) or glob.has_magic(i) for i in args.inputs)
    )


class _Bar:
    """A tqdm bar over shards with the annotation count (off with --quiet or no terminal)."""

    def __init__(self, quiet: bool) -> None:
        self.bar: Any = None
        self.annotations = 0
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(desc="shards", unit="shard", disable=None, leave=False)

    def __call__(self, summary: Dict[str, Any]) -> None:
        self.annotations += summary["annotations"]
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(annotations=self.annotations)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def main(argv: List[str]) -> int:
    """Run the sharded command; the exit codes are :mod:`maskprep.cli`'s."""
    from maskprep import cli, shards

    args = _parser(cli._Parser).parse_args(argv)
    try:
        boxes = _box_options(args)
    except ValueError as exc:
        return cli._fail(str(exc), cli.EXIT_USAGE)
    bar = _Bar(args.quiet)
    try:
        report = shards.run(
            args.inputs,
            args.output,
            job=args.command,
            to=args.to,
            recompute=args.recompute,
            skip_invalid=args.skip_invalid,
            out_format=args.out_format,
            engine=args.engine,
            address=args.address,
            num_threads=args.num_threads,
            resume=not args.no_resume,
            progress=bar,
            boxes=boxes,
        )
    except shards.ShardError as exc:
        return cli._fail(str(exc), cli.EXIT_INVALID)
    except ImportError as exc:
        return cli._fail(str(exc), cli.EXIT_USAGE)
    except ValueError as exc:
        return cli._fail(str(exc), cli.EXIT_USAGE)
    finally:
        bar.close()
    if not args.quiet:
        t = report["totals"]
        bad = sum(len(v) for v in report["invalid"].values())
        print(
            f"{args.command}: {len(report['shards'])} shard(s), {t['images']} image(s), "
            f"{t['annotations']} annotation(s), {t['converted']} "
            f"{'mask(s) added' if args.command == 'boxes' else 'converted'}, {bad} invalid; "
            f"report: {os.path.join(args.output, shards.REPORT_NAME)}",
            file=sys.stderr,
        )
    return cli.EXIT_OK


def dispatch(argv: Optional[List[str]]) -> Optional[int]:
    """The exit code when ``argv`` is a sharded invocation, else None."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return main(argv) if is_sharded(argv) else None
