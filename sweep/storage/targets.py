"""Outputs as users name them: local paths, ``file://`` URLs, and URLs of any fsspec file
system (``s3://``, ``gs://``, ``memory://``), checked before any work."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .lock import output_error
from .space import existing_ancestor

NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".h5", ".hdf5")
IN_PROCESS = ("memory",)  # file systems that live in one process: no other process can use them


def is_url(out: str | os.PathLike) -> bool:
    """Whether ``out`` is a URL (``scheme://...``, fsspec's chained ``a::b://`` too)."""
    return isinstance(out, str) and "://" in out


def local_path(out: str | os.PathLike) -> Path | None:
    """``out`` as a local path (a ``file://`` URL too); None for any other URL."""
    if not is_url(out):
        return Path(out)
    text = str(out)
    if text.startswith("file://"):
        return Path(text[len("file://") :])
    return None


def check_url(out: str | os.PathLike) -> None:
    """Refuse, before any work, an output that is a URL no installed library can write, or a
    netCDF file at a URL (HDF5 writes local files only), or a URL that ``pathlib`` collapsed
    (``Path("s3://b/x")`` is ``s3:/b/x``: a local folder ``s3:`` would be made)."""
    if isinstance(out, os.PathLike) and not isinstance(out, str):
        first = Path(out).parts[0] if Path(out).parts else ""
        if first.endswith(":") and first[:-1].replace("+", "").replace("-", "").isalnum():
            raise ConfigError(
                "output",
                str(out),
                f"looks like a URL that pathlib collapsed ({first}/ for "
                f"{first}//): pass the URL as a string",
            )
        return
    if not is_url(out):
        return
    text = str(out)
    if local_path(text) is None and text.rstrip("/").lower().endswith(NETCDF_SUFFIXES):
        raise ConfigError(
            "output",
            text,
            "netCDF cannot be written to a URL (HDF5 writes local files); "
            "write a zarr store there (a URL ending in .zarr) or a local .nc file",
        )
    import fsspec

    for part in text.split("::"):
        protocol = part.split("://", 1)[0] if "://" in part else None
        if protocol is None:
            continue
        try:
            fsspec.get_filesystem_class(protocol)
        except ImportError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                "output",
                text,
                f"{protocol}:// needs a library that is not installed "
                f"({reason}); `pip install 'liquidity-sweep[cloud]'` adds s3fs and gcsfs",
            ) from None
        except ValueError:
            raise ConfigError(
                "output",
                text,
                f"no fsspec implementation of {protocol}:// is known; give a "
                "local path or a URL such as s3://bucket/result.zarr",
            ) from None


def store_files(out: str | os.PathLike) -> tuple[Any, str]:
    """The fsspec file system and root path of a store (local or at a URL)."""
    import fsspec

    path = local_path(out)
    if path is not None:
        return fsspec.filesystem("file", auto_mkdir=True), str(path.absolute())
    return fsspec.core.url_to_fs(str(out))


def check_writable(out: str | os.PathLike) -> None:
    """Refuse an output whose folder (or the nearest one that exists) cannot be written."""
    folder = existing_ancestor(Path(out))
    if os.access(folder, os.W_OK | os.X_OK):
        return
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    reason = "is on a read-only file system" if read_only else "is not writable (permission denied)"
    raise ConfigError("output", str(out), f"cannot be written: {folder} {reason}")


def make_folder(out: str | os.PathLike) -> None:
    try:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(out, exc, "cannot create its folder") from None


def stored_bytes(out: str | os.PathLike) -> int:
    """Bytes a result takes: a file, or the files of a store (a folder, or at a URL)."""
    path = local_path(out)
    if path is not None and path.is_file():
        return path.stat().st_size
    fs, root = store_files(out)
    return int(fs.du(root))


def partial_path(out: str | os.PathLike) -> Path:
    """Where an unfinished result is written until it is complete: ``<out>.partial``."""
    return Path(f"{out}.partial")


def final_path(path: Path) -> Path:
    """The result an unfinished ``<out>.partial`` stands for (``path`` itself otherwise)."""
    suffix = partial_path("").name
    return path.with_name(path.name[: -len(suffix)]) if path.name.endswith(suffix) else path
