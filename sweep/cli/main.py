"""The ``sweep`` command: run a sweep, summarise a result, draw its figures.

Exit status 0 on success, 2 on bad input (one line on stderr naming what is at fault), 1 on an
internal error.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import time
from importlib import resources
from pathlib import Path

from ..errors import ConfigError, RunStopped
from ..version import __version__

DEFAULT_CONFIG = "default"
PARTIAL_HELP = (
    "use an unfinished sweep's result (an interrupted run's .partial) as it is: the numbers "
    "then come from the chunks done so far, and say so"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep", description="Batch parameter sweeps of Vega-style liquidity mechanisms."
    )
    parser.add_argument("--version", action="version", version=f"sweep {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="run a sweep and write its result (netCDF4, or a zarr store)"
    )
    run.add_argument(
        "config",
        nargs="?",
        default=None,
        help="TOML config file, or the name of a shipped one when no file has that name "
        "(`sweep examples` lists them; default: `default`, a synthetic-market sweep)",
    )
    run.add_argument(
        "--out",
        type=_location,
        help="result: a .nc file, or a zarr store (a .zarr folder or a URL such as "
        "s3://bucket/result.zarr) that the workers write (default: outputs/<name>.nc)",
    )
    run.add_argument(
        "--workers",
        type=int,
        help="threads (or, with --scheduler processes, worker processes) of a local run "
        "(default: the cores this process may use)",
    )
    run.add_argument(
        "--scheduler",
        metavar="ADDR|NAME",
        help="where the chunks run: a Dask scheduler address (tcp://host:8786), or 'threads', "
        "'processes' (a local Dask cluster; its dashboard address is shown) or 'sync' "
        "(default: threads in this process)",
    )
    run.add_argument("--chunk-size", type=int, help="scenarios per task (default: automatic)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing result")
    run.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted sweep (with --overwrite: finish this sweep if it is the "
        "one there, replace what is there otherwise)",
    )
    run.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar or dashboard address on stderr (shown on a terminal otherwise)",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the grid, scenarios, chunks, result size and output; write nothing",
    )

    info = commands.add_parser("info", help="summarise a result file")
    info.add_argument("result", type=_location)
    info.add_argument("--partial", action="store_true", help=PARTIAL_HELP)

    plot = commands.add_parser("plot", help="write the standard figures of a result as PNG")
    plot.add_argument("result", type=_location)
    plot.add_argument("--out", type=Path, help="figure directory (default: beside the result)")
    plot.add_argument("--partial", action="store_true", help=PARTIAL_HELP)

    comp = commands.add_parser(
        "compare", help="mechanism variants side by side: sweep.compare as a table"
    )
    comp.add_argument("result", type=_location)
    comp.add_argument("--dim", default="share_rule", help="the variants' dimension, e.g. preset")
    comp.add_argument(
        "--keep", action="append", default=[], help="a dimension not to average over (repeatable)"
    )
    comp.add_argument("--csv", action="store_true", help="comma-separated values")
    comp.add_argument("--partial", action="store_true", help=PARTIAL_HELP)

    commands.add_parser(
        "examples", help="list the shipped configs (`sweep run NAME` runs one from anywhere)"
    )

    sens = commands.add_parser(
        "sensitivity", help="Sobol' indices (or Morris effects) of an output of a sampled sweep"
    )
    sens.add_argument("result", type=_location)
    sens.add_argument("--output", required=True, help="output variable, e.g. under_supplied_share")
    sens.add_argument("--stat", default="mean", help="over days: mean, final, min or max")
    sens.add_argument("--partial", action="store_true", help=PARTIAL_HELP)
    return parser


def _location(text: str) -> Path | str:
    """A result or output as given: a local path, or a URL kept as a string (``Path`` would
    turn ``s3://b/x`` into ``s3:/b/x``, a local folder ``s3:``); ``file://`` is local."""
    if text.startswith("file://"):
        return Path(text[len("file://") :])
    return text if "://" in text else Path(text)


def _check_cli_output(out: Path | str | None) -> None:
    """Refuse, from the command line, a name that is only an extension (``--out .zarr``), and
    an output that would not outlive the command: a file system in this process's memory
    (``memory://``) is gone when ``sweep`` exits (the Python API may write there: its session
    keeps it)."""
    if out is None:
        return
    from ..runner import ONLY_EXTENSIONS
    from ..storage.targets import IN_PROCESS

    name = str(out).rstrip("/").rsplit("/", 1)[-1]
    if name.lower() in ONLY_EXTENSIONS:  # pathlib takes `.zarr` for a hidden file, not a store
        raise ConfigError("--out", str(out), f"is only an extension: name the result, e.g. "
                          f"result{name.lower()}")  # fmt: skip
    if not isinstance(out, str):
        return

    for part in out.split("::"):
        protocol = part.split("://", 1)[0].lower() if "://" in part else None
        if protocol in IN_PROCESS:
            raise ConfigError(
                "--out",
                out,
                f"{protocol}:// lives in this process's memory: the result would be gone when "
                "`sweep` exits; give a local path or a URL such as s3://bucket/result.zarr "
                "(sweep.run(config, out=...) in Python may write there)",
            )


def _size_mib(out: Path | str) -> float:
    """The size of a result: a file, or a store's files (a folder, or at a URL)."""
    from ..storage.targets import stored_bytes

    return stored_bytes(out) / 2**20


def default_config_path() -> Path:
    return Path(str(resources.files("sweep") / "defaults" / "default.toml"))


def _cmd_run(args: argparse.Namespace) -> int:
    from .. import examples
    from ..config.load import load_config
    from ..config.schema import MAX_CHUNK_SIZE
    from ..runner import run_to_store

    # `sweep run vega_presets` is the shipped config, unless a file of that name is here: that
    # file is what the user means
    name = DEFAULT_CONFIG if args.config is None else args.config
    shipped = name in examples.names() and not Path(name).is_file()
    source = examples.path(name) if shipped else Path(name)
    if not shipped and not source.exists() and source.suffix != ".toml":
        raise ConfigError(
            "CONFIG", name, "is neither a file nor a shipped config (`sweep examples` lists them)"
        )
    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers", args.workers, "must be >= 1")
    if args.chunk_size is not None and not 1 <= args.chunk_size <= MAX_CHUNK_SIZE:
        raise ConfigError(
            "--chunk-size",
            args.chunk_size,
            f"must be between 1 and {MAX_CHUNK_SIZE:,} "
            "(a chunk larger than the sweep is cut to the sweep)",
        )
    _check_cli_output(args.out)
    # read once; a dry run sizes a sampled design without drawing it
    config = load_config(source, draw=not args.dry_run)  # run() and dry_run() take it checked
    out = args.out or Path("outputs") / f"{config.name}.nc"
    if args.dry_run:
        from ..runner import dry_run

        text, problem = dry_run(
            config,
            out=out,
            overwrite=args.overwrite,
            resume=args.resume,
            chunk_size=args.chunk_size,
        )
        print(text)
        if problem is not None:
            raise problem
        return 0
    started = time.perf_counter()
    stats: dict = {}
    ds, sizes = run_to_store(
        config,
        out=out,
        scheduler=args.scheduler,
        workers=args.workers,
        progress=sys.stderr.isatty() and not args.quiet,
        overwrite=args.overwrite,
        resume=args.resume,
        chunk_size=args.chunk_size,
        stats=stats,
    )
    elapsed = time.perf_counter() - started
    size = _size_mib(out)
    shape = " x ".join(f"{n} {d}" for d, n in sizes.items() if d not in ("tick", "commit"))
    if ds is not None:
        ds.close()
    if stats["state"] == "complete":
        print(f"nothing to resume: {out} ({shape}; {size:,.1f} MiB) is complete")
        return 0
    if stats["state"] == "replaced":
        print(
            f"replaced: {out} held another config's sweep, so --resume had nothing of this "
            f"one to finish and --overwrite started it again ({stats['chunks']} chunks)"
        )
    elif stats["state"] == "nothing to resume":
        print(
            f"nothing to resume: no interrupted run at {out}; computed the whole sweep "
            f"({stats['chunks']} chunks)"
        )
    elif args.resume:
        done = stats["chunks"] - stats["computed"]
        print(
            f"resumed: {done} of {stats['chunks']} chunks were done; computed {stats['computed']}"
        )
    print(f"wrote {out} ({shape}; {size:,.1f} MiB) in {elapsed:.1f} s on {stats['where']}")
    return 0


def _open_result(path: Path | str, partial: bool = False):
    """Open a result file or zarr store, turning a missing or unreadable one, one that sweep
    did not write, or an unfinished sweep's (unless ``partial``: ``--partial``) into bad input
    (exit 2). An unfinished result opened with ``--partial`` is marked, and said so on stderr."""
    from ..storage import load, unfinished
    from ..storage.layout import is_sweep_result

    left = unfinished(path)
    if left is not None and not partial:
        raise ConfigError(
            "RESULT",
            str(path),
            f"is an unfinished sweep ({left.progress}): numbers from it would be wrong; "
            "`sweep run ... --resume` finishes it, or --partial uses the chunks done so far",
        )
    try:
        ds = load(path, partial=left is not None)
    except ConfigError:
        raise
    except FileNotFoundError as exc:
        raise ConfigError("RESULT", str(path), str(exc)) from None
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError("RESULT", str(path), f"is not a result file ({reason})") from None
    if not is_sweep_result(ds):
        ds.close()
        raise ConfigError(
            "RESULT",
            str(path),
            "is not a sweep result (it lacks the config and sweep_version attributes sweep writes)",
        )
    if left is not None:
        print(
            f"sweep: warning: {left.where} is an unfinished sweep ({left.progress}): what "
            "follows comes from the chunks done so far, not from the whole sweep",
            file=sys.stderr,
        )
    return ds


def _cmd_info(args: argparse.Namespace) -> int:
    from ..analysis.info import summary_text
    from ..storage import unfinished

    left = unfinished(args.result)
    named = left is not None and left.where == str(args.result)  # the leftovers themselves
    if left is not None and named and not left.readable and (left.writer or not args.partial):
        print(f"{args.result}: {left.text}")  # what its record says is all there is
        return 0
    incomplete = left.text if left is not None and named else None
    with _open_result(args.result, args.partial or incomplete is not None) as ds:
        print(summary_text(ds, args.result, incomplete=incomplete))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analysis.compare import compare

    with _open_result(args.result, args.partial) as ds:
        try:
            table = compare(ds, dim=args.dim, keep=args.keep)
        except ConfigError as exc:  # a dimension that is no variant's: named as an option
            key = f"--{exc.key}" if exc.key in ("dim", "keep") else "RESULT"
            value = exc.value if exc.key in ("dim", "keep") else str(args.result)
            raise ConfigError(key, value, exc.reason) from None
        except ValueError as exc:  # a variable the result lacks
            raise ConfigError("--dim", args.dim, str(exc)) from None
    if args.csv:
        print(table.to_csv(index=False), end="")
    else:
        with pd.option_context(
            "display.width",
            200,
            "display.max_columns",
            None,
            "display.float_format",
            "{:.6g}".format,
        ):
            print(table.to_string(index=False))
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from ..storage.targets import final_path
    from .plot import write_figures

    result = (
        Path(args.result.rstrip("/").rsplit("/", 1)[-1])
        if isinstance(args.result, str)
        else args.result
    )  # a URL's figures go to the current folder
    result = final_path(result)  # r.nc.partial's figures: r_figures, not r.nc_figures
    out_dir = args.out or result.parent / f"{result.stem}_figures"
    with _open_result(args.result, args.partial) as ds:
        _figure_folder(out_dir)
        try:
            paths = write_figures(ds, out_dir)
        except OSError as exc:  # the disk filled up, or the folder went away, mid-way
            why = f"cannot be written ({_reason(exc)})"
            raise ConfigError("--out", str(out_dir), why) from None
    for path in paths:
        print(path)
    return 0


def _reason(exc: OSError) -> str:
    if exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _figure_folder(out_dir: Path) -> None:
    """Make the figures' folder, or refuse in one line: a file where it would be, a read-only
    file system, no permission."""
    from ..storage.space import existing_ancestor

    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError("--out", str(out_dir), "is a file; figures go to a folder")
    above = existing_ancestor(out_dir)
    if not above.is_dir():
        raise ConfigError("--out", str(out_dir), f"cannot be made: {above} is a file, not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        read_only = exc.errno == errno.EROFS
        why = "is on a read-only file system" if read_only else f"cannot be made ({_reason(exc)})"
        raise ConfigError("--out", str(out_dir), why) from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        read_only = bool(os.statvfs(out_dir).f_flag & os.ST_RDONLY)
        why = "is on a read-only file system" if read_only else "is not writable"
        raise ConfigError("--out", str(out_dir), why)


def _cmd_examples(args: argparse.Namespace) -> int:
    from .. import examples

    print(examples.listing())
    return 0


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from ..analysis.sensitivity import sensitivity, table

    with _open_result(args.result, args.partial) as ds:
        print(table(sensitivity(ds, args.output, args.stat)))
    return 0


def main(argv: list[str] | None = None) -> int:
    import warnings

    from ..errors import PartialResultWarning

    args = _parser().parse_args(argv)
    # an unfinished result opened with --partial: _open_result said so in our words already
    warnings.filterwarnings("ignore", category=PartialResultWarning)
    commands = {"run": _cmd_run, "info": _cmd_info, "plot": _cmd_plot, "compare": _cmd_compare}
    commands["sensitivity"] = _cmd_sensitivity
    commands["examples"] = _cmd_examples
    try:
        return commands[args.command](args)
    except ConfigError as exc:
        print(f"sweep: error: {exc}", file=sys.stderr)
        return 2
    except RunStopped as exc:  # stopped from outside (a lost scheduler): one line, status 1
        print(f"sweep: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sweep: interrupted; `sweep run ... --resume` finishes the sweep", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`sweep info r.nc | head`): stop quietly, as unix tools do, and
        # keep Python from complaining when it flushes stdout at exit
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
