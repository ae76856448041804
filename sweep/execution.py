"""Run the chunks of a plan: in this process, on a local Dask cluster, or on a remote one.

Chunks are Dask tasks; their results come back to this process, which alone writes the sink, so
a cluster needs no shared file system. At most a few chunks per worker thread are in flight at a
time, so memory is bounded by the chunk size, not by the sweep size.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from contextlib import contextmanager

from .compute import compute_chunk
from .dataset import chunk_index
from .errors import ConfigError
from .scenarios import Chunk, Plan

SYNCHRONOUS = "synchronous"  # scheduler name for running in this process, without Dask


class Progress:
    """A one-line progress bar on a terminal's stderr; silent elsewhere."""

    def __init__(self, total: int, enabled: bool, label: str = "") -> None:
        self.total = total
        self.count = 0
        self.enabled = enabled and total > 0
        self.label = label
        self.start = time.monotonic()
        self._last = 0.0

    def advance(self, n: int = 1) -> None:
        self.count += n
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.count == self.total):
            self._last = now
            width = 30
            filled = int(width * self.count / self.total)
            elapsed = now - self.start
            eta = elapsed / self.count * (self.total - self.count) if self.count else 0.0
            sys.stderr.write(
                f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                f"{self.count}/{self.total} chunks  {elapsed:6.1f}s  eta {eta:5.1f}s"
            )
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


@contextmanager
def dask_client(scheduler: str | None, workers: int | None):
    """A client of the given scheduler, or of a local cluster sized to the machine."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                "--scheduler", scheduler, f"cannot be reached ({exc.__class__.__name__}: {exc})"
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or default_workers()
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit=0,
        silence_logs=40,
    )
    client = Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def execute(
    plan: Plan,
    sink,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> None:
    """Compute every chunk the sink lacks and hand each result to the sink as it finishes."""
    todo = [c for c in plan.chunks if c.index not in sink.done]
    bar = Progress(len(plan.chunks), progress, label=plan.config.name)
    bar.advance(len(plan.chunks) - len(todo))
    try:
        if not todo:
            return
        local = scheduler == SYNCHRONOUS or (scheduler is None and (workers == 1 or len(todo) == 1))
        if local:
            direct = getattr(sink, "compute_into", None)
            for chunk in todo:
                if not (direct and direct(chunk)):
                    sink.write(chunk.index, chunk_index(plan, chunk), compute_chunk(plan, chunk))
                bar.advance()
        else:
            with dask_client(scheduler, workers) as client:
                for chunk, values in _distributed(client, plan, todo):
                    sink.write(chunk.index, chunk_index(plan, chunk), values)
                    bar.advance()
    finally:
        bar.close()


def _distributed(client, plan: Plan, todo: Iterable[Chunk]):
    """Yield ``(chunk, values)`` as tasks finish, keeping a bounded number in flight."""
    from distributed import as_completed

    threads = sum(client.nthreads().values()) or 1
    window = 2 * threads
    [plan_future] = client.scatter([plan], broadcast=True, hash=False)
    pending = iter(todo)
    futures = as_completed()
    for chunk in pending:
        futures.add(client.submit(compute_chunk, plan_future, chunk, key=f"chunk-{chunk.index}-{id(plan)}"))
        if futures.count() >= window:
            break
    by_key = {c.index: c for c in plan.chunks}
    for future in futures:
        values = future.result()
        index = int(future.key.split("-")[1])
        future.release()
        yield by_key[index], values
        for chunk in pending:
            futures.add(client.submit(compute_chunk, plan_future, chunk, key=f"chunk-{chunk.index}-{id(plan)}"))
            break
