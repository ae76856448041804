"""One run per output: a run holds an exclusive lock on ``<out>.lock`` for as long as it lives.

The lock is a ``flock`` on a small file beside the output holding the owner's process id and
host. The kernel releases it when its process ends, however it ends (``kill -9`` included), so a
partial file whose lock nobody holds is an interrupted run's, and one whose lock is held is being
written right now: another run must not resume, overwrite or delete it.

The lock file is removed by its owner while still locked. A run that opened it just before must
not then lock that orphaned inode and think it owns the output: after locking, the path must
still name the file locked, or the run starts over.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import stat
import time
from pathlib import Path

from ..errors import ConfigError

LOCK_SUFFIX = ".lock"
# a lock found taken is tried again for this long: ``sweep info`` and ``--dry-run`` hold a
# shared lock for microseconds to see whether a run is live, and the owner writes its process
# id just after locking
RETRY_SECONDS = 0.25


def lock_path(out: str | os.PathLike) -> Path:
    return Path(f"{out}{LOCK_SUFFIX}")


def _read_owner(path: Path) -> str:
    try:
        text = path.read_text(errors="replace").split()
    except OSError:
        return ""
    if not text:
        return ""
    pid, host = text[0], (text[1] if len(text) > 1 else "")
    here = socket.gethostname()
    return f"process {pid}" + (f" on {host}" if host and host != here else "")


def busy(owner: str) -> str:
    """Why a run is refused an output that ``owner`` is writing."""
    return f"a run ({owner}) is writing it now; wait for it to finish, or stop it and pass --resume"


def output_error(
    out: str | os.PathLike, exc: OSError, what: str = "cannot be written"
) -> ConfigError:
    """An OSError from creating or writing the output's files, as one line of bad input."""
    where = Path(out).parent
    if exc.errno == errno.EROFS:
        return ConfigError("output", str(out), f"{what}: {where} is on a read-only file system")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ConfigError("output", str(out), f"{what}: permission denied in {where}")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ConfigError("output", str(out), f"{what}: the disk is full ({where})")
    reason = exc.strerror or str(exc)
    name = f" ({exc.filename})" if exc.filename else ""
    return ConfigError("output", str(out), f"{what}: {reason}{name}")


class OutputLock:
    """``with OutputLock(out):`` holds the output for this run, or refuses with the owner."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = Path(out)
        self.path = lock_path(out)
        self.fd: int | None = None

    def acquire(self) -> OutputLock:
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                owner = _read_owner(self.path) or "another process"
                raise ConfigError("output", str(self.out), busy(owner)) from None
            mine = os.fstat(fd)
            try:
                now = os.stat(self.path, follow_symlinks=False)
            except FileNotFoundError:
                now = None
            if now is None or (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino):
                os.close(fd)  # its owner removed it as we locked it: lock the new one
                continue
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
            except OSError as exc:
                os.close(fd)
                raise output_error(self.out, exc) from None
            self.fd = fd
            return self

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
                raise ConfigError(
                    "output", str(self.out), f"{self.path} is in the way (not a regular file)"
                ) from None
            raise output_error(self.out, exc) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ConfigError(
                "output", str(self.out), f"{self.path} is in the way (not a regular file)"
            )
        return fd

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still locked: see the module's docstring
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def owner(out: str | os.PathLike) -> str | None:
    """Who is writing ``out`` now (``"process 123"``), or None when no run holds it.

    Looks without taking the output from anyone: a shared lock, tried once and dropped at once.
    Never creates the lock file.
    """
    path = lock_path(out)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_owner(path) or "another process"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
