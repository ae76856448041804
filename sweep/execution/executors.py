"""Run the chunks of a plan: in this process, on a pool of threads, or on a Dask cluster.

One small class per way of running behind the :class:`Executor` protocol (:class:`InProcess`,
:class:`Threads`, :class:`DaskCluster`), each yielding ``(chunk, result)`` as chunks finish; every
chunk is ``compute_chunk(plan, chunk)``, a pure function. Results come back to this process, which
alone hands them to the store, so a cluster needs no shared file system; except where the store
gives a block writer (:meth:`sweep.storage.Store.block_writer`: a zarr store), which each task calls
where it ran, sending back only a receipt. Executors know stores by that protocol alone.
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
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from ..engine.blocks import chunk_result_bytes
from ..engine.compute import compute_chunk
from ..engine.plan import Chunk, Plan
from ..errors import ConfigError, RunStopped
from ..storage.store import BlockWriter, Store

SYNCHRONOUS = "synchronous"  # scheduler name for running in this process, without Dask
# Dask's scheduler names (dask.base.named_schedulers), and what each means here: "sync" runs
# the chunks one after the other in this process, "threads" on a pool of threads in this
# process, "processes" on a local Dask cluster of worker processes
SCHEDULER_NAMES = {
    "sync": "sync",
    "synchronous": "sync",
    "single-threaded": "sync",
    "threads": "threads",
    "threading": "threads",
    "processes": "processes",
    "multiprocessing": "processes",
}
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
    computed: int  # chunks computed by this call; the rest were already in the store (resume)
    seconds: float
    where: str  # "this process", "2 threads in this process", or the scheduler address


class Progress:
    """A progress bar of chunks: ``tqdm.auto``, so a widget in a notebook and a line as wide as
    the terminal elsewhere (on stderr); nothing at all when not ``enabled``.

    Chunks an earlier run finished (``advance(n, resumed=True)``, before the first fresh one)
    count towards the total but not towards the rate, so the time left is that of the chunks
    this run computes.
    """

    def __init__(self, total: int, enabled: bool, label: str = "") -> None:
        self.total = total
        self.count = 0
        self.enabled = enabled and total > 0
        self.label = label
        self.bar: Any = None  # the tqdm bar, made on the first advance

    def advance(self, n: int = 1, *, resumed: bool = False) -> None:
        """Count ``n`` more chunks done (``resumed``: done by an earlier run, not timed)."""
        self.count += n
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm.auto import tqdm

            widget = any(c.__module__ == "tqdm.notebook" for c in tqdm.__mro__)
            # a text bar follows the terminal's width; a terminal that gives no size (0 x 0,
            # as a pseudo-terminal may) gets 80 x 24, where tqdm would draw nothing
            width: dict[str, Any] = (
                {}
                if widget
                else (
                    {"dynamic_ncols": True} if _columns(sys.stderr) else {"ncols": 80, "nrows": 24}
                )
            )
            self.bar = tqdm(
                total=self.total,
                initial=self.count if resumed else 0,  # tqdm times only what comes after
                desc=self.label or None,
                unit="chunk",
                mininterval=0.1,
                file=sys.stderr,
                **width,
            )
            if resumed:
                return
        self.bar.update(n)

    def write(self, line: str) -> None:
        """One line on stderr that does not tear the bar apart (a dashboard's address)."""
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _columns(stream: Any) -> int:
    """The width of the terminal ``stream`` writes to; 0 if it is none or does not say."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


def default_workers() -> int:
    """Cores this process may use: the CPU affinity (a batch job's share of a node) and a
    container's CPU quota (cgroups), as ``dask.system.cpu_count`` counts them, without
    importing Dask (:mod:`sweep.engine.cores`)."""
    from ..engine.cores import usable_cores

    return usable_cores()


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
            "--scheduler",
            address,
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


def _is_client(scheduler: Any) -> bool:
    """Whether ``scheduler`` is a ``distributed.Client`` (without importing distributed)."""
    distributed = sys.modules.get("distributed")
    return distributed is not None and isinstance(scheduler, distributed.Client)


def active_client() -> Any:
    """The Client active in this session, as Dask finds it (``distributed.get_client()`` outside
    a task: the one made current by ``with client.as_current()``, else the newest Client not
    closed and not made with ``set_as_default=False``), or None. Without ``distributed``
    imported there is none, and nothing is imported to find that out."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        client = distributed.Client.current(allow_global=True)
    except ValueError:  # no Client in this session
        return None
    return client if client.status == "running" else None


def scheduler_kind(scheduler: Any) -> str:
    """What ``scheduler`` asks for: ``"local"`` (None), ``"sync"``, ``"threads"``,
    ``"processes"``, ``"client"`` or ``"address"``; anything else is refused (ConfigError)."""
    if scheduler is None:
        return "local"
    if _is_client(scheduler):
        return "client"
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ConfigError(
            "--scheduler",
            scheduler,
            "must be a distributed.Client, an address like tcp://host:8786, or one of "
            + ", ".join(repr(n) for n in ("threads", "processes", "sync")),
        )
    name = scheduler.strip().lower()
    if name in SCHEDULER_NAMES:
        return SCHEDULER_NAMES[name]
    if "://" not in name and ":" not in name:  # a word, not host:port: a name mistyped
        raise ConfigError(
            "--scheduler",
            scheduler,
            "is not a scheduler: give 'threads', 'processes' or 'sync' (Dask's names), or an "
            "address like tcp://host:8786",
        )
    return "address"


@contextmanager
def dask_client(
    scheduler: Any,
    workers: int | None,
    *,
    processes: bool | None = None,
    announce: Callable[[str], None] | None = None,
) -> Iterator[Any]:
    """A client: ``scheduler`` itself when it is a ``distributed.Client`` (left open: it is the
    caller's), one of the scheduler at that address, or one of a local cluster of ``workers``
    (default: cores) that lives as long as the block. ``announce``, when given, receives the
    local cluster's dashboard address (someone watches this run; the dashboard costs CPU
    otherwise)."""
    if _is_client(scheduler):
        if scheduler.status != "running":
            raise ConfigError("--scheduler", scheduler, "is a Client that is not running")
        with _quiet_when_lost(scheduler):
            yield scheduler
        return
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
    # Skip the worker's profiler, which samples every thread's stack under the GIL every
    # 10 ms, and the GIL-contention monitor. The event loops' 20 ms tick (it only warns of a
    # blocked loop) and the 0.5 s system monitor cost 0.04 CPU-seconds per second while idle;
    # at 1 s and 5 s, 0.005 (measured on the 2-core VM).
    quiet = {
        "distributed.worker.profile.enabled": False,
        "distributed.admin.system-monitor.gil.enabled": False,
        "distributed.admin.tick.interval": "1s",
        "distributed.admin.system-monitor.interval": "5s",
    }
    # the dashboard (it needs bokeh) only when someone watches the run: Dask's port, or any
    # free one when that is taken; otherwise no dashboard, and the HTTP port: any free one
    dashboard = announce is not None and _has_bokeh()
    with dask.config.set(quiet), warnings.catch_warnings():
        # "Port 8787 is already in use ... on port N instead": the address printed says so
        warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
        cluster = LocalCluster(
            n_workers=n if use_processes else 1,
            threads_per_worker=1 if use_processes else n,
            processes=use_processes,
            dashboard_address=":8787" if dashboard else None,
            scheduler_kwargs={} if dashboard else {"dashboard_address": ":0"},
            memory_limit=0,
            silence_logs=40,
        )
        client = Client(cluster, set_as_default=False)
        try:
            if announce is not None:
                announce(
                    f"dashboard: {client.dashboard_link}"
                    if dashboard
                    else "dashboard: none (it needs bokeh: pip install bokeh)"
                )
            yield client
        finally:
            client.close()
            cluster.close()


def _has_bokeh() -> bool:
    from importlib.util import find_spec

    return find_spec("bokeh") is not None


def runs_elsewhere(scheduler: Any) -> bool:
    """Whether ``scheduler``'s chunks may run in other processes (a Dask cluster's workers),
    which cannot write a store that lives in this one."""
    return scheduler_kind(scheduler) in ("client", "address", "processes")


def check_options(scheduler: Any, workers: int | None) -> None:
    """Reject a bad ``scheduler`` or ``workers``, or a bad pair, before any file or cluster
    exists: a name Dask does not know, an address nothing answers at, a closed Client, or
    ``workers`` beside a scheduler whose workers are its own."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)):
        raise ConfigError("--workers", workers, "must be a whole number >= 1")
    if workers is not None and workers < 1:
        raise ConfigError("--workers", workers, "must be >= 1")
    kind = scheduler_kind(scheduler)
    if kind in ("client", "address") and workers is not None:
        raise ConfigError(
            "--workers",
            workers,
            "sizes the local cluster; with --scheduler the workers are those of that cluster",
        )
    if kind == "sync" and workers is not None and workers > 1:
        raise ConfigError(
            "--workers",
            workers,
            f"asks for a pool, but --scheduler {scheduler!r} runs the "
            "chunks one after the other in this process (give 'threads' or 'processes')",
        )
    if kind == "client" and scheduler.status != "running":
        raise ConfigError("--scheduler", scheduler, "is a Client that is not running")
    if kind == "address":
        check_scheduler(scheduler)


class Executor(Protocol):
    """One way of running chunks: ``where`` names it for the user; ``results`` yields each
    chunk with its values (with a store's block ``writer``: the writer's receipt, the values
    written where the chunk ran) as chunks finish."""

    where: str

    def results(
        self, plan: Plan, todo: list[Chunk], writer: BlockWriter | None = None
    ) -> Iterator[tuple[Chunk, Any]]: ...


class InProcess:
    """Chunks one after the other in this process: no start-up, one core."""

    where = "this process"

    def results(
        self, plan: Plan, todo: list[Chunk], writer: BlockWriter | None = None
    ) -> Iterator[tuple[Chunk, Any]]:
        for chunk in todo:
            yield chunk, _compute(chunk, plan, writer)


class Threads:
    """Chunks on a pool of threads in this process: the kernels release the GIL, results are
    handed over by reference, and a pool starts in microseconds where a Dask cluster takes a
    good part of a second (a 1,000,000-scenario summary sweep: 1.70x one core on two threads of
    a pool, 1.12x on a local Dask cluster of two threads, measured on the 2-core VM)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.where = f"{n} threads in this process"

    def results(
        self, plan: Plan, todo: list[Chunk], writer: BlockWriter | None = None
    ) -> Iterator[tuple[Chunk, Any]]:
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
                    inflight[pool.submit(_compute, chunk, plan, writer)] = chunk

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
    """Chunks as tasks of a Dask cluster: a Client's (never closed here), a scheduler's at an
    address, or local worker processes (``announce`` receives their dashboard's address)."""

    def __init__(
        self,
        scheduler: Any,
        n: int | None,
        processes: bool | None,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self.scheduler, self.n, self.processes = scheduler, n, processes
        self.announce = announce
        if _is_client(scheduler):
            self.where = str(scheduler.scheduler.address)
        else:
            self.where = scheduler or f"local cluster of {n} processes"

    def results(
        self, plan: Plan, todo: list[Chunk], writer: BlockWriter | None = None
    ) -> Iterator[tuple[Chunk, Any]]:
        with dask_client(
            self.scheduler, self.n, processes=self.processes, announce=self.announce
        ) as client:
            try:
                yield from _distributed(client, plan, todo, writer)
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
    scheduler: Any,
    workers: int | None,
    processes: bool | None,
    n_todo: int,
    announce: Callable[[str], None] | None = None,
) -> Executor:
    """How to run: this process, a pool of threads, or a Dask cluster.

    ``scheduler`` as :func:`sweep.run` takes it (see :func:`check_options`). Without one, the
    Client active in this session, as Dask would use it, unless ``workers`` or ``processes``
    asks for a local run; otherwise ``workers`` threads in this process (``processes``: a local
    Dask cluster of worker processes). ``announce`` receives the dashboard address of a local
    cluster sweep starts.
    """
    kind = scheduler_kind(scheduler)
    if kind == "local" and workers is None and processes is None:
        client = active_client()
        if client is not None:
            return DaskCluster(client, None, None)
    if kind == "sync":
        return InProcess()
    if kind in ("client", "address"):
        return DaskCluster(scheduler, None, processes)
    n = min(workers or default_workers(), max(n_todo, 1))
    if kind == "processes":  # asked for by name: worker processes, even one
        return DaskCluster(None, n, True, announce)
    if n <= 1:
        return InProcess()
    if kind == "local" and (LOCAL_PROCESSES if processes is None else processes):
        return DaskCluster(None, n, True, announce)
    return Threads(n)


def execute(
    plan: Plan,
    store: Store,
    *,
    scheduler: Any = None,
    workers: int | None = None,
    progress: bool = False,
    processes: bool | None = None,
) -> Report:
    """Compute every chunk the store lacks and hand each result to the store as it finishes.

    ``scheduler``: a ``distributed.Client``, a Dask address, ``"sync"`` (or ``"synchronous"``:
    this process, one chunk after another), ``"threads"``, ``"processes"``, or None for the
    session's active Client if any, else ``workers`` threads in this process (default: one per
    core; one worker, or a single chunk left, runs without a pool) (:func:`backend`).
    ``processes=True`` runs a local Dask cluster of worker processes instead of threads
    (:data:`LOCAL_PROCESSES` sets the default).
    """
    started = time.perf_counter()
    chunks = plan.chunks
    todo = [c for c in chunks if c.index not in store.done]
    bar = Progress(len(chunks), progress, label=plan.config.name)
    bar.advance(len(chunks) - len(todo), resumed=True)
    runner = backend(
        scheduler, workers, processes, len(todo), announce=bar.write if bar.enabled else None
    )
    try:
        # with a block writer each task writes its chunk where it ran and sends back only a
        # receipt; otherwise the values come here to the store
        for chunk, values in runner.results(plan, todo, store.block_writer()):
            store.write(chunk, values)
            del values
            bar.advance()
    finally:
        bar.close()
    return Report(len(chunks), len(todo), time.perf_counter() - started, runner.where)


def _distributed(
    client: Any, plan: Plan, todo: Iterable[Chunk], writer: Any = None
) -> Iterator[tuple[Chunk, Any]]:
    """Yield ``(chunk, values)`` as tasks finish, keeping a bounded number in flight (with a
    ``writer``, each task writes its values into the store and ``values`` is its
    acknowledgement: see :func:`_compute`).

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
        batch_futures = client.map(
            _compute, chunks, plan=shipped, writer=writer, key=keys, pure=False
        )
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


def _compute(chunk: Chunk, plan: Plan, writer: Any = None) -> Any:
    """One chunk's task: the plan comes as the result of :func:`_the_plan`'s task (on a
    cluster). With a ``writer`` (:meth:`sweep.storage.Store.block_writer`) the task writes its
    values into the store itself and returns the writer's small receipt, so the values never
    travel; otherwise it returns the values."""
    values = compute_chunk(plan, chunk)
    if writer is None:
        return values
    return writer(plan, chunk, values)
