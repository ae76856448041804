"""The ``sweep`` command: run a sweep, summarise a result, draw its figures.

Exit status 0 on success, 2 on bad input (one line on stderr naming what is at fault), 1 on an
internal error.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from importlib import resources
from pathlib import Path

from ..errors import ConfigError, RunStopped
from ..version import __version__

DEFAULT_CONFIG = "default"


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
        help="TOML config file (default, or `default` when no file has that name: the "
        "embedded synthetic-market sweep)",
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
    run.add_argument("--resume", action="store_true", help="finish an interrupted sweep")
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

    plot = commands.add_parser("plot", help="write the standard figures of a result as PNG")
    plot.add_argument("result", type=_location)
    plot.add_argument("--out", type=Path, help="figure directory (default: beside the result)")

    comp = commands.add_parser(
        "compare", help="mechanism variants side by side: sweep.compare as a table"
    )
    comp.add_argument("result", type=_location)
    comp.add_argument("--dim", default="share_rule", help="the variants' dimension, e.g. preset")
    comp.add_argument(
        "--keep", action="append", default=[], help="a dimension not to average over (repeatable)"
    )
    comp.add_argument("--csv", action="store_true", help="comma-separated values")

    sens = commands.add_parser(
        "sensitivity", help="Sobol' indices (or Morris effects) of an output of a sampled sweep"
    )
    sens.add_argument("result", type=_location)
    sens.add_argument("--output", required=True, help="output variable, e.g. under_supplied_share")
    sens.add_argument("--stat", default="mean", help="over days: mean, final, min or max")
    return parser


def _location(text: str) -> Path | str:
    """A result or output as given: a local path, or a URL kept as a string (``Path`` would
    turn ``s3://b/x`` into ``s3:/b/x``, a local folder ``s3:``); ``file://`` is local."""
    if text.startswith("file://"):
        return Path(text[len("file://") :])
    return text if "://" in text else Path(text)


def _size_mib(out: Path | str) -> float:
    """The size of a result: a file, or a store's files (a folder, or at a URL)."""
    from ..storage.io import store_files

    if isinstance(out, Path) and out.is_file():
        return out.stat().st_size / 2**20
    fs, root = store_files(out)
    return fs.du(root) / 2**20


def default_config_path() -> Path:
    return Path(str(resources.files("sweep") / "defaults" / "default.toml"))


def _cmd_run(args: argparse.Namespace) -> int:
    from ..config.load import MAX_CHUNK_SIZE, load_config
    from ..runner import run

    # `sweep run default` is the embedded sweep, unless a file of that name is here: that file
    # is what the user means
    embedded = args.config is None or (
        args.config == DEFAULT_CONFIG and not Path(args.config).is_file()
    )
    source = default_config_path() if embedded else Path(args.config)
    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers", args.workers, "must be >= 1")
    if args.chunk_size is not None and not 1 <= args.chunk_size <= MAX_CHUNK_SIZE:
        raise ConfigError(
            "--chunk-size",
            args.chunk_size,
            f"must be between 1 and {MAX_CHUNK_SIZE:,} "
            "(a chunk larger than the sweep is cut to the sweep)",
        )
    config = load_config(source)  # read once: run() and dry_run() take the checked config
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
    ds = run(
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
    shape = " x ".join(f"{n} {d}" for d, n in ds.sizes.items() if d not in ("tick", "commit"))
    ds.close()
    if stats["state"] == "complete":
        print(f"nothing to resume: {out} ({shape}; {size:,.1f} MiB) is complete")
        return 0
    if stats["state"] == "nothing to resume":
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


def _open_result(path: Path | str):
    """Open a result file or zarr store, turning a missing or unreadable one, or one that sweep
    did not write, into bad input (exit 2)."""
    from ..storage.io import is_sweep_result, is_zarr, load

    if isinstance(path, Path) and path.is_dir() and not is_zarr(path):
        raise ConfigError("RESULT", str(path), "is a folder, not a result file or zarr store")
    try:
        ds = load(path)
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
    return ds


PARTIAL = ".partial"


def _partial_state(path: Path) -> tuple[str | None, str]:
    """For an interrupted run's ``<out>.partial``: the run writing it now (or None), and how
    many chunks are done."""
    from ..storage.io import read_journal
    from ..storage.lock import owner

    out = path.with_name(path.name[: -len(PARTIAL)])
    journal = read_journal(out)
    done = (
        f"{len(journal['done'])} of {journal['chunks']} chunks done"
        if journal
        else "no chunk done yet"
    )
    return owner(out), done


def _unfinished_store(result: Path | str) -> str | None:
    """For a zarr store whose sweep has not finished (a local ``<out>.partial`` folder, or a
    store at a URL without its root metadata): one line saying so; None otherwise."""
    from ..storage.io import is_url

    if isinstance(result, Path):
        if not (result.name.endswith(PARTIAL) and result.is_dir()):
            return None
        from ..storage.lock import owner
        from ..storage.zarr_store import progress_text

        live = owner(result.with_name(result.name[: -len(PARTIAL)]))
        who = (
            f"a run ({live}) is writing it now"
            if live
            else ("`sweep run ... --resume` finishes it")
        )
        return f"{result}: an unfinished sweep store, {progress_text(str(result))}; {who}"
    if not is_url(result):
        return None
    from ..storage.zarr_store import progress_text, store_state

    if store_state(result) != "unfinished":
        return None
    return (
        f"{result}: an unfinished sweep store, {progress_text(result)}; `sweep run ... "
        "--resume` finishes it (or a run is writing it now)"
    )


def _cmd_info(args: argparse.Namespace) -> int:
    from ..analysis.info import summary_text

    unfinished = _unfinished_store(args.result)
    if unfinished:  # no root metadata yet: what its record says is all there is
        print(unfinished)
        return 0
    incomplete = None
    if (
        isinstance(args.result, Path)
        and args.result.name.endswith(PARTIAL)
        and args.result.is_file()
    ):
        live, done = _partial_state(args.result)
        if live:  # HDF5 keeps a file it writes locked: what the journal says is all there is
            print(f"{args.result}: an unfinished sweep; a run ({live}) is writing it now, {done}")
            return 0
        incomplete = (
            f"an interrupted run's partial file, {done}; `sweep run ... --resume` finishes it"
        )
    with _open_result(args.result) as ds:
        print(summary_text(ds, args.result, incomplete=incomplete))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..analysis.compare import compare

    with _open_result(args.result) as ds:
        try:
            table = compare(ds, dim=args.dim, keep=args.keep)
        except ValueError as exc:  # a dimension or variable the result lacks
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
    from .plot import write_figures

    unfinished = _unfinished_store(args.result)
    if unfinished:
        raise ConfigError(
            "RESULT",
            str(args.result),
            f"is {unfinished.split(': ', 1)[1]}; finish it before plotting",
        )
    if (
        isinstance(args.result, Path)
        and args.result.name.endswith(PARTIAL)
        and args.result.is_file()
    ):
        _, done = _partial_state(args.result)
        raise ConfigError(
            "RESULT",
            str(args.result),
            f"is an unfinished sweep ({done}); finish it with "
            "`sweep run ... --resume` before plotting",
        )
    result = (
        Path(args.result.rstrip("/").rsplit("/", 1)[-1])
        if isinstance(args.result, str)
        else args.result
    )  # a URL's figures go to the current folder
    out_dir = args.out or result.parent / f"{result.stem}_figures"
    with _open_result(args.result) as ds:
        paths = write_figures(ds, out_dir)
    for path in paths:
        print(path)
    return 0


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from ..analysis.sensitivity import sensitivity, table

    with _open_result(args.result) as ds:
        print(table(sensitivity(ds, args.output, args.stat)))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"run": _cmd_run, "info": _cmd_info, "plot": _cmd_plot, "compare": _cmd_compare}
    commands["sensitivity"] = _cmd_sensitivity
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
