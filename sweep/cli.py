"""The ``sweep`` command: run a sweep, summarise a result, draw its figures.

Exit status 0 on success, 2 on bad input (one line on stderr naming what is at fault), 1 on an
internal error.
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib import resources
from pathlib import Path

from .errors import ConfigError
from .version import __version__

DEFAULT_CONFIG = "default"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep", description="Batch parameter sweeps of Vega-style liquidity mechanisms."
    )
    parser.add_argument("--version", action="version", version=f"sweep {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a sweep and write its result as netCDF4")
    run.add_argument(
        "config",
        nargs="?",
        default=DEFAULT_CONFIG,
        help="TOML config file (default: the embedded synthetic-market sweep)",
    )
    run.add_argument("--out", type=Path, help="result file (default: outputs/<name>.nc)")
    run.add_argument("--workers", type=int, help="local Dask workers (default: all cores)")
    run.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786")
    run.add_argument("--chunk-size", type=int, help="scenarios per task (default: automatic)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing result")
    run.add_argument("--resume", action="store_true", help="finish an interrupted sweep")

    info = commands.add_parser("info", help="summarise a result file")
    info.add_argument("result", type=Path)

    plot = commands.add_parser("plot", help="write the standard figures of a result as PNG")
    plot.add_argument("result", type=Path)
    plot.add_argument("--out", type=Path, help="figure directory (default: beside the result)")
    return parser


def default_config_path() -> Path:
    return Path(str(resources.files("sweep") / "defaults" / "default.toml"))


def _cmd_run(args: argparse.Namespace) -> int:
    from .config import load_config
    from .runner import run

    source = default_config_path() if args.config == DEFAULT_CONFIG else Path(args.config)
    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers", args.workers, "must be >= 1")
    if args.chunk_size is not None and args.chunk_size < 1:
        raise ConfigError("--chunk-size", args.chunk_size, "must be >= 1")
    config = load_config(source)
    out = args.out or Path("outputs") / f"{config.name}.nc"
    started = time.perf_counter()
    stats: dict = {}
    ds = run(
        source,
        out=out,
        scheduler=args.scheduler,
        workers=args.workers,
        progress=sys.stderr.isatty(),
        overwrite=args.overwrite,
        resume=args.resume,
        chunk_size=args.chunk_size,
        stats=stats,
    )
    elapsed = time.perf_counter() - started
    size = out.stat().st_size / 2**20
    shape = " x ".join(f"{n} {d}" for d, n in ds.sizes.items() if d not in ("tick", "commit"))
    ds.close()
    if args.resume and stats["where"] == "nothing to do":
        print(f"nothing to resume: {out} ({shape}; {size:,.1f} MiB) is complete")
        return 0
    if args.resume:
        done = stats["chunks"] - stats["computed"]
        print(f"resumed: {done} of {stats['chunks']} chunks were done; "
              f"computed {stats['computed']}")
    print(f"wrote {out} ({shape}; {size:,.1f} MiB) in {elapsed:.1f} s on {stats['where']}")
    return 0


def _open_result(path: Path):
    """Open a result file, turning a missing or unreadable file into bad input (exit 2)."""
    from .io import load

    try:
        return load(path)
    except FileNotFoundError as exc:
        raise ConfigError("RESULT", str(path), str(exc)) from None
    except (OSError, ValueError) as exc:
        raise ConfigError("RESULT", str(path), f"is not a result file ({exc})") from None


def _cmd_info(args: argparse.Namespace) -> int:
    from .info import summary_text

    with _open_result(args.result) as ds:
        print(summary_text(ds, args.result))
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from .plot_cli import write_figures

    out_dir = args.out or args.result.parent / f"{args.result.stem}_figures"
    with _open_result(args.result) as ds:
        paths = write_figures(ds, out_dir)
    for path in paths:
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"run": _cmd_run, "info": _cmd_info, "plot": _cmd_plot}
    try:
        return commands[args.command](args)
    except ConfigError as exc:
        print(f"sweep: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sweep: interrupted; `sweep run ... --resume` finishes the sweep", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
