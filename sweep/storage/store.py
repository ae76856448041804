"""The storage protocol: what a run asks of the place its result goes.

A backend is a subclass of :class:`Store`, registered with :func:`sweep.storage.register`. The
run, the command line and the executors talk to a store through these methods only, never
asking which backend it is, in this order:

1. :func:`sweep.storage.store_for` makes the store of the first registered backend whose
   :meth:`Store.claims` takes the output (``out``: None for in memory, a path or a URL). Nothing
   is written yet.
2. Before any work, looking only: :meth:`~Store.recorded_chunk_size` (a resume finishes with the
   interrupted run's chunking), :meth:`~Store.check` (refusals, free space) and, for
   ``--dry-run``, :meth:`~Store.describe`.
3. Under :meth:`~Store.lock`: :meth:`~Store.prepare` lays the result out from its
   :class:`~sweep.storage.layout.ResultLayout` (or reopens the interrupted run's) and says what
   it found; :attr:`~Store.done` then holds the chunks already in.
4. Each computed chunk reaches :meth:`~Store.write`: its values, sent back to this process, or,
   when :meth:`~Store.block_writer` gives a writer, that writer's receipt (the chunk's task wrote
   its block where it ran). A chunk is finished, and stays so through a kill, once ``write``
   returns.
5. :meth:`~Store.commit` once every chunk is in, then :meth:`~Store.result`; after an error or
   interrupt :meth:`~Store.abort` instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ..engine.plan import Chunk, Plan
from ..errors import ConfigError
from ..version import __version__
from .layout import ResultLayout

Target = str | os.PathLike | None
"""An output as the user gave it: None (in memory), a path, or a URL."""

BlockWriter = Callable[[Plan, Chunk, dict[str, np.ndarray]], Any]
"""Writes one chunk's block where the chunk was computed and returns a small, picklable receipt
for :meth:`Store.write` (it travels to Dask workers, so it must pickle too)."""

STATES = ("new", "resumed", "nothing to resume", "replaced", "complete")
"""What :meth:`Store.prepare` found: a fresh result; an interrupted run continued; a resume
with nothing to continue (started afresh); another sweep's run, started again (``--resume
--overwrite``); a finished result of this sweep (nothing to do)."""


@dataclass(frozen=True)
class Unfinished:
    """An interrupted (or running) sweep's leftovers at a path a reading command was given.

    ``text`` is what a user reads after the path (``an unfinished sweep store, 3 of 10 chunks
    done; ...``); ``where`` the leftovers' location, ``progress`` how far the run got, ``writer``
    the run writing them now (if known); ``readable``: whether ``sweep info`` shows them without
    ``--partial`` (an interrupted run's partial file, named as such).
    """

    text: str
    where: str
    progress: str
    writer: str | None = None
    readable: bool = False


class Store(ABC):
    """Where one result goes, and the run that writes it there (see the module docstring)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.done: set[int] = set()  # finished chunks, filled by prepare and write

    @classmethod
    @abstractmethod
    def claims(cls, target: Target) -> bool:
        """Whether this backend writes ``target`` (the chooser asks the newest backend first)."""

    # --- before any work: these look, and write nothing ------------------------------------
    def recorded_chunk_size(self) -> int | None:
        """The chunk size an interrupted run at the target used (a resume keeps it), if any."""
        return None

    @abstractmethod
    def check(self, plan: Plan, *, overwrite: bool, resume: bool, remote: bool) -> None:
        """Refuse, with a :class:`~sweep.ConfigError`, a run that must not start: a result that
        would be replaced silently, no room, a target the chunks' workers cannot reach
        (``remote``: they run in other processes)."""

    def describe(
        self, plan: Plan, *, overwrite: bool, resume: bool
    ) -> tuple[list[str], ConfigError | None]:
        """``--dry-run``'s lines about the output, and the error the run would stop with."""
        try:
            self.check(plan, overwrite=overwrite, resume=resume, remote=False)
        except ConfigError as exc:
            return [f"output: {self.target}"], exc
        return [f"output: {self.target}"], None

    def lock(self) -> AbstractContextManager[Any]:
        """Held for the whole run: no other run may write the target meanwhile."""
        return contextlib.nullcontext()

    # --- the run -----------------------------------------------------------------------------
    @abstractmethod
    def prepare(self, layout: ResultLayout, *, overwrite: bool, resume: bool) -> str:
        """Lay the result out (or reopen the interrupted run's, with ``resume``); one of
        :data:`STATES`. Fills :attr:`done`."""

    def block_writer(self) -> BlockWriter | None:
        """A writer the chunks' tasks call where they run (so values never travel), or None:
        values come back to :meth:`write`."""
        return None

    @abstractmethod
    def write(self, chunk: Chunk, values: Any) -> None:
        """Take one finished chunk (its values, or the block writer's receipt) and record it in
        :attr:`done` and wherever a resume will look."""

    @abstractmethod
    def commit(self) -> None:
        """Make the result complete once every chunk is in (after ``prepare`` found it
        ``"complete"``: tidy what the finished run left)."""

    @abstractmethod
    def result(self) -> xr.Dataset:
        """The committed (or found complete) result as a dataset."""

    @abstractmethod
    def abort(self, exc: BaseException) -> BaseException | None:
        """Stop after ``exc``: keep the finished chunks for a resume (remove everything when
        none is). Returns the error to raise instead (a full disk as bad input), or None."""

    # --- reading results ---------------------------------------------------------------------
    def load(self, **xarray_kwargs: Any) -> xr.Dataset:
        """Open a finished result at the target (``sweep.load``)."""
        raise ValueError(f"{self.target} cannot be opened as a result")

    @classmethod
    def unfinished(cls, result: str | os.PathLike) -> Unfinished | None:
        """What an interrupted or running sweep of this backend left at ``result``, if that is
        what it is (``sweep.load``, ``sweep info``)."""
        return None

    @classmethod
    def load_unfinished(cls, where: str, xarray_kwargs: dict[str, Any]) -> xr.Dataset:
        """Open what :meth:`unfinished` found at ``where``, as it is (``load(partial=True)``)."""
        raise ValueError(f"{where} cannot be opened before it is finished")


def progress_text(done: int | None, chunks: int = 0) -> str:
    """An interrupted run's progress, as every backend tells it: ``"3 of 10 chunks done"``, or
    ``"no chunk done yet"`` where the run left no record of its chunks (``done`` None)."""
    return "no chunk done yet" if done is None else f"{done} of {chunks} chunks done"


def run_digest(plan: Plan) -> str:
    """Identity of a sweep for resuming: config text, chunking, engine version, path data.

    The csv/table series are hashed too: a data file edited between the interrupted run and
    the resume would otherwise mix two markets in one result.
    """
    digest = hashlib.sha256()
    text = (
        f"{plan.config.toml}\n#chunk_size={plan.chunk_size}\n#scenarios={plan.n_scenarios}"
        f"\n#version={__version__}"
    )
    digest.update(text.encode())
    for name in sorted(plan.source.data):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(plan.source.data[name], dtype=np.float64).tobytes())
    if plan.source.dates is not None:
        digest.update(np.asarray(plan.source.dates, dtype="datetime64[D]").tobytes())
    return digest.hexdigest()
