"""Run the chunks of a plan: in this process, on a pool of threads, or on a Dask cluster.

One small class per way of running (:class:`InProcess`, :class:`Threads`,
:class:`DaskCluster`), each yielding ``(chunk, result)`` as chunks finish; every chunk is
``compute_chunk(plan, chunk)``, a pure function. Results come back to this process, which alone
writes the sink, so a cluster needs no shared file system.
Two chunks per worker thread are in flight, more while their results stay under
``RESULTS_IN_FLIGHT_BYTES``, so memory is bounded by the chunk size, not by the sweep size. A
worker that dies mid-task has its chunks re-run elsewhere by the scheduler; the numbers cannot
change, since a chunk's result depends on nothing but the plan. The plan goes to a cluster once
(:func:`_distributed`). A scheduler that goes away ends the run with :class:`RunStopped`, one
line (``sweep run`` exits with status 1) instead of distributed's logs and tracebacks; the
chunks written stay in the partial file for ``--resume``.

Without a scheduler, chunks run on threads in this process, not worker processes. The kernels
release the GIL, and threads hand results over by reference where processes pickle every chunk
through a socket. Measured on the 2-core development VM with the one-kernel engine (a7160b6;
``benchmarks/bench_scaling.py --compare``, 100,000 scenarios, summary): 2 threads 1.90x one
worker, 2 processes 0.98x (starting them and loading the compiled kernels costs about 2 s). With
the engine as steps, a per-day sweep of 20,000 scenarios on their own paths to netCDF ran 1.75x
faster on 2 threads than on one (``benchmarks/bench_stream.py``). ``LOCAL_PROCESSES`` flips the
choice.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .compute import chunk_result_bytes, compute_chunk
from .errors import ConfigError, RunStopped
from .scenarios import Chunk, Plan

SYNCHRONOUS = "synchronous"  # scheduler name for running in this process, without Dask
LOCAL_PROCESSES = False  # threads in this process (see the module docstring for the numbers)
CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler before giving up
IN_FLIGHT_PER_THREAD = 2  # chunks submitted per worker thread: enough to keep every thread busy
# results in flight at most (computing, or done and not yet written): with small results
# (summaries) many chunks go out in one batch, which costs Dask half the CPU per task
RESULTS_IN_FLIGHT_BYTES = 64 * 2**20


@dataclass
class Report:
    """What one :func:`execute` call did: the figures ``sweep run`` prints."""

    chunks: int  # chunks in the plan
    computed: int  # chunks computed by this call; the rest were already in the sink (resume)
    seconds: float
    where: str  # "this process", "2 threads in this process", or the scheduler address


class Progress:
    """A one-line progress bar on a terminal's stderr; silent elsewhere."""

    def __init__(self, total: int, enabled: bool, label: str = "") -> None:
        self.total = total
        self.count = 0
        self.enabled = enabled and total > 0
        self.label = label
        self.start = time.monotonic()
        self._last = 0.0
        self._first = 0

    def advance(self, n: int = 1, *, resumed: bool = False) -> None:
        """Count ``n`` more chunks done (``resumed``: done by an earlier run, not timed)."""
        self.count += n
        if resumed:
            self._first = self.count
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.count == self.total):
            self._last = now
            width = 30
            filled = int(width * self.count / self.total)
            elapsed = now - self.start
            fresh = self.count - self._first
            eta = elapsed / fresh * (self.total - self.count) if fresh else 0.0
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
    """Cores this process may use (its CPU affinity, e.g. a batch job's share of a node)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def check_scheduler(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail fast, naming ``--scheduler``, when nothing listens at a scheduler address.

    A Dask client retries a refused connection until its timeout, and waits forever on a port
    that accepts connections but never speaks. Probing the TCP port first turns a typo or a
    stopped scheduler into an error at once (a host or port that does not answer takes
    ``timeout`` seconds). Only TCP and TLS addresses are taken (``dask scheduler`` listens on
    TCP): any other scheme (``ws://``, ``inproc://``, ``ucx://``) is refused at once, where a
    client would try it until its timeout.
    """
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    if not isinstance(address, str) or not address.strip():
        raise ConfigError("--scheduler", address, "must be an address like tcp://host:8786")
    try:
        scheme, location = parse_address(address.strip())
    except ValueError as exc:
        raise ConfigError("--scheduler", address, f"is not an address ({exc})") from None
    if scheme not in ("tcp", "tls"):
        raise ConfigError(
            "--scheduler", address,
            f"uses the scheme {scheme + '://'!r}; give a TCP or TLS address, e.g. "
            "tcp://host:8786 or tls://host:8786",
        )
    try:
        host, port = parse_host_port(location, default_port=8786)
    except ValueError as exc:
        raise ConfigError("--scheduler", address, f"is not host:port ({exc})") from None
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as probe:
            if scheme == "tcp":
                # a Dask server greets every new connection at once; without that greeting
                # a Dask client would wait for it forever, whatever its timeout says
                probe.settimeout(timeout)
                try:
                    greeting = probe.recv(1)
                except TimeoutError:
                    greeting = None
                if not greeting:
                    raise ConfigError(
                        "--scheduler",
                        address,
                        f"{host}:{port} accepts connections but does not answer like a Dask "
                        f"scheduler (no greeting within {timeout:g} s)",
                    )
    except socket.gaierror as exc:
        raise ConfigError("--scheduler", address, f"unknown host {host!r} ({exc})") from None
    except TimeoutError:
        raise ConfigError(
            "--scheduler", address, f"no answer from {host}:{port} within {timeout:g} s"
        ) from None
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise ConfigError(
            "--scheduler", address, f"cannot be reached ({reason}); is `dask scheduler` running?"
        ) from None


@contextmanager
def dask_client(
    scheduler: str | None, workers: int | None, *, processes: bool | None = None
) -> Iterator[Any]:
    """A client of the given scheduler, or of a local cluster of ``workers`` (default: cores)."""
    from distributed import Client, LocalCluster

    if scheduler:
        check_scheduler(scheduler)
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                "--scheduler", scheduler, f"cannot be reached ({exc.__class__.__name__}: {exc})"
            ) from None
        with _quiet_when_lost(client):  # until the client is closed
            try:
                yield client
            finally:
                _close(client)
        return
    import dask

    n = workers or default_workers()
    use_processes = LOCAL_PROCESSES if processes is None else processes
    # Every cycle the cluster's event loops spend is taken from the kernels on the same cores.
    # Nobody watches this cluster's dashboard: skip the worker's profiler, which samples every
    # thread's stack under the GIL every 10 ms, and the GIL-contention monitor. The event
    # loops' 20 ms tick (it only warns of a blocked loop) and the 0.5 s system monitor cost
    # 0.04 CPU-seconds per second while idle; at 1 s and 5 s, 0.005 (measured on the 2-core VM).
    quiet = {
        "distributed.worker.profile.enabled": False,
        "distributed.admin.system-monitor.gil.enabled": False,
        "distributed.admin.tick.interval": "1s",
        "distributed.admin.system-monitor.interval": "5s",
    }
    with dask.config.set(quiet):
        cluster = LocalCluster(
            n_workers=n if use_processes else 1,
            threads_per_worker=1 if use_processes else n,
            processes=use_processes,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},  # no dashboard; HTTP port: any free
            memory_limit=0,
            silence_logs=40,
        )
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
            cluster.close()


def check_options(scheduler: str | None, workers: int | None) -> None:
    """Reject option combinations before any file or cluster exists."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)):
        raise ConfigError("--workers", workers, "must be a whole number >= 1")
    if workers is not None and workers < 1:
        raise ConfigError("--workers", workers, "must be >= 1")
    if scheduler and scheduler != SYNCHRONOUS:
        if workers is not None:
            raise ConfigError(
                "--workers",
                workers,
                "sizes the local cluster; with --scheduler the workers are those of that cluster",
            )
        check_scheduler(scheduler)


class InProcess:
    """Chunks one after the other in this process: no start-up, one core."""

    where = "this process"

    def results(self, plan: Plan, todo: list[Chunk]) -> Iterator[tuple[Chunk, Any]]:
        for chunk in todo:
            yield chunk, compute_chunk(plan, chunk)


class Threads:
    """Chunks on a pool of threads in this process: the kernels release the GIL, results are
    handed over by reference, and a pool starts in microseconds where a Dask cluster takes a
    good part of a second (a 1,000,000-scenario summary sweep: 1.70x one core on two threads of
    a pool, 1.12x on a local Dask cluster of two threads, measured on the 2-core VM)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.where = f"{n} threads in this process"

    def results(self, plan: Plan, todo: list[Chunk]) -> Iterator[tuple[Chunk, Any]]:
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        # a pool hands out work at once: two chunks per thread keep every thread busy, and
        # deeper queues (which amortise a scheduler's cost per task) would only hold memory
        window = IN_FLIGHT_PER_THREAD * self.n
        pending = iter(todo)
        inflight: dict[Any, Chunk] = {}
        with ThreadPoolExecutor(self.n, thread_name_prefix="sweep") as pool:

            def submit() -> None:
                chunk = next(pending, None)
                if chunk is not None:
                    inflight[pool.submit(compute_chunk, plan, chunk)] = chunk

            for _ in range(window):
                submit()
            try:
                while inflight:
                    done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                    for future in done:
                        chunk = inflight.pop(future)
                        values = future.result()
                        submit()
                        yield chunk, values
            finally:
                for future in inflight:
                    future.cancel()


class DaskCluster:
    """Chunks as tasks of a Dask cluster: a scheduler's, or local worker processes."""

    def __init__(self, scheduler: str | None, n: int | None, processes: bool | None) -> None:
        self.scheduler, self.n, self.processes = scheduler, n, processes
        self.where = scheduler or f"local cluster of {n} processes"

    def results(self, plan: Plan, todo: list[Chunk]) -> Iterator[tuple[Chunk, Any]]:
        with dask_client(self.scheduler, self.n, processes=self.processes) as client:
            try:
                yield from _distributed(client, plan, todo)
            except Exception as exc:
                if not _lost(client, exc):
                    raise
                raise RunStopped(
                    f"lost the connection to the Dask scheduler at {self.where} "
                    f"({type(exc).__name__}); the chunks written are kept: "
                    "`sweep run ... --resume` continues once a scheduler is running"
                ) from None


LOST_REASON = "scheduler-connection-lost"  # distributed's reason for futures it cancels


def _lost(client: Any, exc: BaseException) -> bool:
    """Whether ``exc`` says the client lost its scheduler (rather than a task failing)."""
    from distributed.comm import CommClosedError

    if client.status != "running":
        return True
    return isinstance(exc, CommClosedError) or LOST_REASON in str(exc)


class _LostFilter(logging.Filter):
    """Drops the log records of distributed (and of the event loop under it) once the client
    is no longer running: on a lost scheduler, dozens of lines of reconnection attempts and
    tracebacks that say no more than :class:`RunStopped`'s one line."""

    NAMES = ("distributed", "tornado", "asyncio")

    def __init__(self, client: Any) -> None:
        super().__init__()
        self.client = client

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.NAMES):
            return True
        return self.client.status == "running"


@contextmanager
def _quiet_when_lost(client: Any) -> Iterator[None]:
    """Silence distributed's logging for as long as the client has lost its scheduler."""
    quiet = _LostFilter(client)
    loggers = [logging.getLogger()] + [
        logger for name, logger in list(logging.Logger.manager.loggerDict.items())
        if name.startswith(_LostFilter.NAMES) and isinstance(logger, logging.Logger)
    ]  # fmt: skip
    handlers = {id(h): h for logger in loggers for h in logger.handlers}.values()
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)


def _close(client: Any) -> None:
    """Close a client; one that lost its scheduler briefly, and quietly."""
    if client.status == "running":
        client.close()
        return
    try:
        client.close(timeout=1)
    except Exception:  # noqa: BLE001 - nothing is left to close cleanly
        pass


def in_flight(plan: Plan, threads: int) -> int:
    """Chunks to keep in flight: ``IN_FLIGHT_PER_THREAD`` per thread, more while their results
    stay under ``RESULTS_IN_FLIGHT_BYTES``."""
    least = IN_FLIGHT_PER_THREAD * threads
    return max(least, RESULTS_IN_FLIGHT_BYTES // max(1, chunk_result_bytes(plan)))


def backend(
    scheduler: str | None, workers: int | None, processes: bool | None, n_todo: int
) -> InProcess | Threads | DaskCluster:
    """How to run: this process, a pool of threads, or a Dask cluster."""
    if scheduler == SYNCHRONOUS:
        return InProcess()
    if scheduler:
        return DaskCluster(scheduler, None, processes)
    n = min(workers or default_workers(), max(n_todo, 1))
    if n <= 1:
        return InProcess()
    if LOCAL_PROCESSES if processes is None else processes:
        return DaskCluster(None, n, True)
    return Threads(n)


def execute(
    plan: Plan,
    sink: Any,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
    processes: bool | None = None,
) -> Report:
    """Compute every chunk the sink lacks and hand each result to the sink as it finishes.

    ``scheduler``: a Dask address, ``"synchronous"`` (this process, one chunk after another),
    or None for ``workers`` threads in this process (default: one per core; one worker, or a
    single chunk left, runs without a pool). ``processes=True`` runs a local Dask cluster of
    worker processes instead of threads (:data:`LOCAL_PROCESSES` sets the default).
    """
    started = time.perf_counter()
    chunks = plan.chunks
    todo = [c for c in chunks if c.index not in sink.done]
    bar = Progress(len(chunks), progress, label=plan.config.name)
    bar.advance(len(chunks) - len(todo), resumed=True)
    runner = backend(scheduler, workers, processes, len(todo))
    try:
        for chunk, values in runner.results(plan, todo):
            sink.write(chunk, values)
            del values
            bar.advance()
    finally:
        bar.close()
    return Report(len(chunks), len(todo), time.perf_counter() - started, runner.where)


def _distributed(client: Any, plan: Plan, todo: Iterable[Chunk]) -> Iterator[tuple[Chunk, Any]]:
    """Yield ``(chunk, values)`` as tasks finish, keeping a bounded number in flight.

    At least ``IN_FLIGHT_PER_THREAD`` chunks per worker thread are in flight, so no thread
    waits for this process to hand out work; more when their results are small, up to
    ``RESULTS_IN_FLIGHT_BYTES``, and those go out in batches: one message to the scheduler
    for many tasks (measured: 1.3 ms of Dask CPU per task in batches of 50, 2.5-4 ms one by
    one, all taken from the kernels' cores). Keys carry a fresh token, so two sweeps sharing a
    scheduler never share results.

    The plan goes to the cluster once, as the result of a task of its own that every chunk's
    task depends on: a task carries its chunk (a few slices) and the plan's key, so the graph
    stays small whatever the plan holds (a swept list of 10^6 values is megabytes), and each
    worker fetches the plan once. Were the plan inside every task, a long list would be
    shipped, stored by the scheduler and unpickled once per chunk (issue "Reliability": 7.6 GB
    for a list of 10^6 values). A worker that dies with the plan loses nothing: the scheduler
    keeps the plan's task and runs it again where it is needed.
    """
    import warnings

    from distributed import as_completed

    threads = sum(client.nthreads().values()) or 1
    window = in_flight(plan, threads)
    batch = max(1, window - IN_FLIGHT_PER_THREAD * threads)  # refill once this many are free
    token = f"sweep-chunk-{uuid.uuid4().hex}"
    with warnings.catch_warnings():
        # the plan is big by design (the grid's values) and goes in the graph once, on purpose
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        shipped = client.submit(
            _the_plan, plan.for_workers(), key=f"sweep-plan-{token[12:]}", pure=False
        )
    pending = list(todo)
    pending.reverse()  # pop() hands chunks out in plan order
    inflight: dict[Any, Chunk] = {}
    futures = as_completed(loop=client.loop)

    def submit(n: int) -> None:
        chunks = [pending.pop() for _ in range(min(n, len(pending)))]
        if not chunks:
            return
        keys = [(token, chunk.index) for chunk in chunks]
        batch_futures = client.map(_compute, chunks, plan=shipped, key=keys, pure=False)
        for chunk, future in zip(chunks, batch_futures, strict=True):
            inflight[future.key] = chunk
        futures.update(batch_futures)

    submit(window)
    for future in futures:
        values = future.result()
        chunk = inflight.pop(future.key)
        future.release()
        del future
        if window - len(inflight) >= batch:
            submit(window - len(inflight))
        yield chunk, values


def _the_plan(plan: Plan) -> Plan:
    """The task whose result is the plan, on the cluster (see :func:`_distributed`)."""
    return plan


def _compute(chunk: Chunk, plan: Plan) -> dict[str, Any]:
    """One chunk's task: the plan comes as the result of :func:`_the_plan`'s task."""
    return compute_chunk(plan, chunk)
