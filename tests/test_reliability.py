"""Reliability of the output under real faults: two runs on one output, kill -9, outputs that
are not regular files, results too big for the disk or memory, a disk that fills up mid-run, a
read-only file system, files that are not sweep results, and a reader that goes away.

The faults are real where they can be: runs are separate ``sweep run`` processes, killed with
SIGKILL or paused with SIGSTOP (a paused run is a live run: it holds its lock), the full disk is
a tiny tmpfs (when the tests run as root; a file-size limit in a child process otherwise), the
FIFO and the read-only file system are real ones.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_execution import SWEEP, assert_same_result, small_config, write_config

import sweep
from sweep.cli.main import main
from sweep.engine.plan import make_plan
from sweep.errors import ConfigError
from sweep.storage.netcdf import read_journal
from sweep.storage.space import result_bytes

CHUNK = 10  # scenarios per chunk: 30 chunks; runs are paused (SIGSTOP) to be caught mid-sweep
FINE = 2  # 300 chunks, for runs killed at random moments


def rel_config(seed: int = 5) -> dict:
    """300 scenarios (3 v x 2 valuation_period x 2 share rules x 25 paths), 60 days, 3 LPs."""
    config = small_config(name="reliability")
    config["sweep"].update(days=60, paths=25, seed=seed)
    return config


N_CHUNKS = len(make_plan(rel_config(), chunk_size=CHUNK).chunks)
N_FINE = len(make_plan(rel_config(), chunk_size=FINE).chunks)


def journaled(out: Path) -> int:
    journal = read_journal(out)
    return -1 if journal is None else len(journal["done"])


def start(config: Path, out: Path, *flags: str, chunk: int = CHUNK) -> subprocess.Popen:
    return subprocess.Popen(
        [
            *SWEEP,
            "run",
            str(config),
            "--out",
            str(out),
            "--chunk-size",
            str(chunk),
            "--workers",
            "1",
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=config.parent,
    )


def wait_for_chunks(proc: subprocess.Popen, out: Path, n: int, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while journaled(out) < n and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    done = journaled(out)
    assert done >= n, f"the run ended ({proc.poll()}) or stalled before {n} chunks: {done}"
    return done


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sweep: error: "), stderr
    return lines[0]


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """Clean runs of the two configs the tests write (seeds 5 and 6: different numbers)."""
    folder = tmp_path_factory.mktemp("ref")
    refs = {}
    for label, seed in (("A", 5), ("B", 6)):
        out = folder / f"{label}.nc"
        sweep.run(rel_config(seed), out=out, workers=2).close()
        refs[label] = sweep.load(out)
    assert not np.array_equal(refs["A"]["fee_revenue"].values, refs["B"]["fee_revenue"].values)
    yield refs
    for ds in refs.values():
        ds.close()


@pytest.fixture
def reference(references):
    return references["A"]


@contextlib.contextmanager
def paused(proc: subprocess.Popen):
    """SIGSTOP a run (it stays alive and keeps its lock), SIGCONT it afterwards."""
    proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGCONT)


# --- two runs on one output ---------------------------------------------------------------------
@pytest.mark.slow
def test_a_second_run_is_refused_while_the_first_lives(reference, tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", rel_config())
    out = tmp_path / "r.nc"
    first = start(config, out)
    wait_for_chunks(first, out, 3)
    partial = Path(f"{out}.partial")
    with paused(first):  # mid-sweep, for as long as the others take
        before = (os.stat(partial).st_ino, os.stat(f"{out}.partial.json").st_ino)
        second = start(config, out, "--overwrite")  # another process
        stdout, stderr = second.communicate(timeout=120)
        assert second.returncode == 2, (stdout, stderr)
        line = one_line_error(stderr)
        assert f"a run (process {first.pid}) is writing it now" in line, line
        for flags in ((), ("--resume",), ("--overwrite", "--resume")):  # and this one
            assert main(["run", str(config), "--out", str(out), *flags]) == 2
            line = one_line_error(capsys.readouterr().err)
            assert f"a run (process {first.pid}) is writing it now" in line, line
        # the live run's files are untouched: nothing deleted, replaced or resumed
        assert (os.stat(partial).st_ino, os.stat(f"{out}.partial.json").st_ino) == before
        assert first.poll() is None and not out.exists()

        # the same answer from sweep.run, --dry-run, info and load
        with pytest.raises(ConfigError, match=f"process {first.pid}"):
            sweep.run(rel_config(), out=out, resume=True)
        assert main(["run", str(config), "--out", str(out), "--dry-run"]) == 2
        text = capsys.readouterr()
        assert f"a run (process {first.pid}) is writing it now" in text.out
        assert f"process {first.pid}" in one_line_error(text.err)
        assert main(["info", str(partial)]) == 0
        text = capsys.readouterr().out
        assert f"process {first.pid}" in text and f"of {N_CHUNKS} chunks done" in text, text
        with pytest.raises(FileNotFoundError, match=f"process {first.pid}"):
            sweep.load(out)
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert stdout.startswith(f"wrote {out}")
    with sweep.load(out) as ds:
        assert_same_result(ds, reference)
    assert sorted(os.listdir(tmp_path)) == ["c.toml", "r.nc"]  # the lock went with its run


@pytest.mark.slow
def test_kill_9_then_another_run(reference, tmp_path, capsys):
    """A killed run's partial is an interrupted run's (the kernel dropped its lock, though the
    lock file with its process id stays): the next run is told to --resume, which finishes."""
    config = write_config(tmp_path / "c.toml", rel_config())
    out = tmp_path / "r.nc"
    run = start(config, out)
    wait_for_chunks(run, out, 4)
    run.send_signal(signal.SIGSTOP)  # so that the kill lands mid-sweep, however fast it runs
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert run.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    done = journaled(out)
    assert 4 <= done < N_CHUNKS and not out.exists()
    assert Path(f"{out}.lock").read_text().split()[0] == str(run.pid)  # stale: nobody holds it

    assert main(["run", str(config), "--out", str(out)]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "interrupted" in line and "--resume" in line and "writing" not in line, line
    assert f"{done} of {N_CHUNKS} chunks done" in line, line

    # sweep info labels the partial file incomplete and gives no numbers over unfinished chunks
    assert main(["info", f"{out}.partial"]) == 0
    text = capsys.readouterr().out
    assert f"INCOMPLETE: an interrupted run's partial file, {done} of {N_CHUNKS} chunks done" in (
        text
    ), text
    assert "mean fee rate" not in text and "headline numbers: none" in text
    assert main(["plot", f"{out}.partial"]) == 2
    assert "unfinished" in one_line_error(capsys.readouterr().err)

    # a reader holds the partial file open (by name: it is unfinished); HDF5 locks it
    with sweep.load(f"{out}.partial", partial=True):
        assert main(["run", str(config), "--out", str(out), "--resume"]) == 2
        assert "open in another program" in one_line_error(capsys.readouterr().err)
    assert journaled(out) == done  # not started again

    assert main(["run", str(config), "--out", str(out), "--resume"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"resumed: {done} of {N_CHUNKS} chunks were done; computed {N_CHUNKS - done}"
    with sweep.load(out) as ds:
        assert_same_result(ds, reference)
    assert sorted(os.listdir(tmp_path)) == ["c.toml", "r.nc"]


ZYGOTE = r"""
import json, os, select, sys, threading, traceback
import sweep
from sweep.cli.main import main

sweep.run(json.loads(sys.argv[1]), scheduler="synchronous").close()  # load every kernel once
assert threading.active_count() == 1, threading.enumerate()  # safe to fork
children, pending = {}, b""


def report(**event):
    os.write(1, (json.dumps(event) + "\n").encode())


def run(job):
    code = 1
    try:
        for fd, name in ((1, job["stdout"]), (2, job["stderr"])):
            f = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(f, fd)
            os.close(f)
        code = main(job["argv"])
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


report(ready=True)
while True:
    if select.select([0], [], [], 0.002)[0]:
        data = os.read(0, 65536)
        if not data:
            break
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            job = json.loads(line)
            pid = os.fork()
            if pid == 0:
                run(job)
            children[pid] = job["id"]
            report(id=job["id"], pid=pid)
    while children:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            break
        report(id=children.pop(pid), status=os.waitstatus_to_exitcode(status))
"""


class Zygote:
    """A process that imported sweep (and loaded its kernels) once and forks a `sweep run`
    for each job: separate processes with their own locks, killed for real, that start in
    milliseconds rather than seconds, so that many runs and kills fit in a short test."""

    def __init__(self, folder: Path) -> None:
        import json
        import queue
        import threading

        warm = rel_config()
        warm["sweep"]["paths"] = 1
        self.folder = folder
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, json.dumps(warm)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.events: queue.Queue = queue.Queue()
        self.pids: dict[int, int] = {}
        self.status: dict[int, int] = {}
        self.jobs = 0

        def read() -> None:
            for line in self.proc.stdout:
                self.events.put(json.loads(line))
            self.events.put(None)

        threading.Thread(target=read, daemon=True).start()
        assert self._next(timeout=120) == {"ready": True}

    def _next(self, timeout: float) -> dict | None:
        event = self.events.get(timeout=timeout)
        if event is None:
            raise AssertionError("the zygote died")
        if "pid" in event:
            self.pids[event["id"]] = event["pid"]
        if "status" in event:
            self.status[event["id"]] = event["status"]
        return event

    def run(self, argv: list[str]) -> int:
        import json

        job = self.jobs
        self.jobs += 1
        files = {k: str(self.folder / f"job{job}.{k}") for k in ("stdout", "stderr")}
        self.proc.stdin.write((json.dumps({"id": job, "argv": argv, **files}) + "\n").encode())
        self.proc.stdin.flush()
        while job not in self.pids:
            self._next(timeout=60)
        return job

    def poll(self) -> None:
        import queue

        with contextlib.suppress(queue.Empty):
            while True:
                self._next(timeout=0)

    def output(self, job: int) -> tuple[str, str]:
        return tuple(Path(self.folder / f"job{job}.{k}").read_text() for k in ("stdout", "stderr"))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.mark.slow
def test_interleaved_runs_kills_and_resumes(references, tmp_path):
    """Runs of two configs started, SIGKILLed at random moments and resumed on one output, at
    most two alive at once: whatever loads as a complete result is exactly one config's clean
    result (no mix of two runs, no zero-filled chunk), and every run ends in success, a one-line
    refusal or its kill. SWEEP_RELIABILITY_SEED=n replays a sequence."""
    seed = int(os.environ.get("SWEEP_RELIABILITY_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    configs = {
        label: write_config(tmp_path / f"{label}.toml", rel_config(s))
        for label, s in (("A", 5), ("B", 6))
    }
    out = tmp_path / "r.nc"
    logs = tmp_path / "logs"
    logs.mkdir()
    zygote = Zygote(logs)
    live: dict[int, tuple[str, tuple[str, ...], float]] = {}
    seen: dict[str, int] = {}
    checked: set[tuple[int, int]] = set()

    def check_result() -> None:
        try:
            st = out.stat()
        except FileNotFoundError:
            return
        if (st.st_ino, st.st_mtime_ns) in checked:
            return
        with sweep.load(out) as ds:
            label = next(
                (k for k, r in references.items() if r.attrs["config"] == ds.attrs["config"]), None
            )
            assert label is not None, f"seed {seed}: a result of neither config"
            assert_same_result(ds, references[label])
        checked.add((st.st_ino, st.st_mtime_ns))

    def reap(job: int, label: str, flags: tuple[str, ...]) -> None:
        status = zygote.status[job]
        stdout, stderr = zygote.output(job)
        what = f"seed {seed}: {label} {flags} -> {status}: {stdout} {stderr}"
        if status == -signal.SIGKILL:
            kind = "killed"
        elif status == 2:
            line = one_line_error(stderr)
            kind = (
                "live"
                if "writing it now" in line
                else "interrupted"
                if "interrupted" in line
                else "config"
                if "another config" in line or "different config" in line
                else "exists"
                if "exists" in line
                else line
            )
            assert kind in ("live", "interrupted", "config", "exists"), what
        else:
            assert status == 0, what
            assert "wrote" in stdout or "nothing to resume" in stdout, what
            kind = "resumed" if stdout.startswith("resumed") else "ok"
        seen[kind] = seen.get(kind, 0) + 1

    flag_choices = [(), ("--resume",), ("--resume",), ("--overwrite",)]
    deadline = time.monotonic() + 10
    try:
        while time.monotonic() < deadline or live:
            zygote.poll()
            for job, (label, flags, kill_at) in list(live.items()):
                if job in zygote.status:
                    del live[job]
                    reap(job, label, flags)
                elif time.monotonic() >= min(kill_at, deadline):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(zygote.pids[job], signal.SIGKILL)
                        if 0 < journaled(out) < N_FINE:
                            seen["kills, a sweep half-done"] = (
                                seen.get("kills, a sweep half-done", 0) + 1
                            )
            check_result()
            if time.monotonic() < deadline and len(live) < 2 and rng.random() < 0.5:
                label = rng.choice("AB")
                flags = rng.choice(flag_choices)
                # a run takes about a second: kills land before the lock, while the file is set
                # up, mid-sweep and around the final rename; a third of the runs are not killed
                kill_at = time.monotonic() + (rng.uniform(0, 1.2) if rng.random() < 0.67 else 60.0)
                argv = [
                    "run",
                    str(configs[label]),
                    "--out",
                    str(out),
                    "--chunk-size",
                    str(FINE),
                    *flags,
                ]
                live[zygote.run(argv)] = (label, flags, kill_at)
            time.sleep(rng.uniform(0.005, 0.1))
    finally:
        zygote.close()
    # a last run (in this process) finishes what is left: a partial of either config, else anew
    for label in ("A", "B"):
        with contextlib.redirect_stderr(io.StringIO()) as err:
            status = main(["run", str(configs[label]), "--out", str(out), "--resume"])
        if status == 0:
            break
        assert status == 2 and "config" in err.getvalue(), (seed, seen, err.getvalue())
    else:
        raise AssertionError(f"seed {seed}: neither config resumes {seen}")
    check_result()
    print(f"seed {seed}: {seen}, {len(checked)} complete results checked")
    assert seen.get("killed") and len(checked) >= 1, f"seed {seed}: {seen}"
    left = sorted(n for n in os.listdir(tmp_path) if n.startswith("r.nc"))
    assert left == ["r.nc"], f"seed {seed}: {left} {seen}"


# --- outputs that are not regular files ---------------------------------------------------------
def test_a_fifo_as_output_is_refused_and_kept(tmp_path):
    config = write_config(tmp_path / "c.toml", rel_config())
    fifo = tmp_path / "r.nc"
    os.mkfifo(fifo)
    proc = subprocess.run(
        [*SWEEP, "run", str(config), "--out", str(fifo), "--overwrite"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "named pipe" in one_line_error(proc.stderr)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["c.toml", "r.nc"]  # no lock, no partial


@pytest.mark.parametrize("kind", ["folder", "socket", "broken link"])
@pytest.mark.parametrize("flags", [(), ("--overwrite",), ("--resume",)])
def test_outputs_that_are_not_regular_files(kind, flags, tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", rel_config())
    out = tmp_path / "r.nc"
    server = None
    if kind == "folder":
        out.mkdir()
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(out))
    else:
        out.symlink_to(tmp_path / "nowhere")
    before = os.lstat(out)
    try:
        assert main(["run", str(config), "--out", str(out), *flags]) == 2
    finally:
        if server is not None:
            server.close()
    line = one_line_error(capsys.readouterr().err)
    assert str(out) in line and "--out =" not in line
    after = os.lstat(out)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert sorted(os.listdir(tmp_path)) == ["c.toml", "r.nc"]


def test_dev_null_is_never_replaced(tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", rel_config())
    before = os.stat("/dev/null")
    assert main(["run", str(config), "--out", "/dev/null", "--overwrite"]) == 2
    assert "device" in one_line_error(capsys.readouterr().err)
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    for suffix in (".lock", ".partial", ".partial.json"):
        assert not os.path.lexists(f"/dev/null{suffix}")


def test_never_renamed_over_a_pipe_that_appears_mid_run(tmp_path, monkeypatch):
    """The target is checked again just before the rename: a FIFO made while the sweep ran is
    kept, and so is the finished partial file, which --resume then puts in place."""
    import sweep.execution.executors

    out = tmp_path / "r.nc"
    real = sweep.execution.executors.compute_chunk

    def compute(plan, chunk):
        if chunk.index == 3 and not out.exists():
            os.mkfifo(out)
        return real(plan, chunk)

    monkeypatch.setattr(sweep.execution.executors, "compute_chunk", compute)
    with pytest.raises(ConfigError, match="named pipe"):
        sweep.run(rel_config(), out=out, chunk_size=40, workers=1)
    monkeypatch.undo()
    assert stat.S_ISFIFO(os.lstat(out).st_mode)
    out.unlink()
    stats: dict = {}
    sweep.run(rel_config(), out=out, resume=True, stats=stats).close()
    assert stats["computed"] == 0 and stats["state"] == "resumed"
    assert sorted(os.listdir(tmp_path)) == ["r.nc"]


# --- sizes: refuse what cannot fit, --dry-run -----------------------------------------------------
def huge_config() -> dict:
    """10^8 scenarios of a year: petabytes of per-day outputs."""
    config = small_config(name="huge")
    config["sweep"].update(days=365, paths=1)
    config["network"] = {
        "v": [float(i) for i in range(1, 10_001)],
        "k": [1.0 + i / 1e4 for i in range(10_000)],
    }
    config["mechanism"] = {}
    return config


def test_dry_run_of_the_default_config_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "v 4 x valuation_period 3 x share_rule 2 x path 8 = 192 scenarios" in text, text
    plan = make_plan(str(Path(sweep.__file__).parent / "defaults" / "default.toml"))
    assert f"chunks: {len(plan.chunks)} of up to" in text
    from sweep.storage.space import human

    assert f"result: about {human(result_bytes(plan))}" in text
    assert "output: outputs/default.nc (new file; outputs would be created)" in text
    assert "free space: " in text and "; the result fits" in text
    assert os.listdir(tmp_path) == []


def test_the_size_estimate_bounds_the_file(tmp_path):
    for reduce in ("none", "summary"):
        config = rel_config()
        config["sweep"]["reduce"] = reduce
        out = tmp_path / f"{reduce}.nc"
        sweep.run(config, out=out).close()
        estimate = result_bytes(make_plan(config))
        assert out.stat().st_size <= estimate <= 1.25 * out.stat().st_size + 2**20, (
            reduce,
            out.stat().st_size,
            estimate,
        )


@pytest.mark.parametrize("dry", [False, True])
def test_a_result_too_big_for_the_disk_is_refused_before_any_work(dry, tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", huge_config())
    out = tmp_path / "new" / "huge.nc"
    started = time.monotonic()
    assert main(["run", str(config), "--out", str(out), *(["--dry-run"] if dry else [])]) == 2
    assert time.monotonic() - started < 30
    text = capsys.readouterr()
    line = one_line_error(text.err)
    assert re.search(
        r"the result needs about [\d.,]+ [KMGTP]iB but .* has [\d.,]+ [KMGTP]?i?B "
        r"free",
        line,
    ), line
    assert 'reduce = "summary"' in line and "variables" in line, line
    assert str(tmp_path) in line
    if dry:
        assert "= 100,000,000 scenarios" in text.out
    assert sorted(os.listdir(tmp_path)) == ["c.toml"]  # not even the folder


def test_an_in_memory_result_too_big_for_memory_is_refused():
    started = time.monotonic()
    with pytest.raises(ConfigError) as err:
        sweep.run(huge_config())
    assert time.monotonic() - started < 30
    message = str(err.value)
    assert "of memory but" in message and "available" in message, message
    assert 'reduce = "summary"' in message and "variables" in message


# --- full disks, size limits and read-only file systems -------------------------------------------
@contextlib.contextmanager
def tmpfs(path: Path, size: int, *options: str):
    """A tmpfs of ``size`` bytes at ``path`` (root only); skips the test when it cannot mount."""
    path.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    opts = ",".join([f"size={size}", *options])
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the file system of ``folder`` until ``leave`` bytes (or less) are free."""
    filler = folder / "filler"
    with open(filler, "wb") as f:
        block = b"\1" * 65536
        try:
            while shutil.disk_usage(folder).free > leave:
                room = shutil.disk_usage(folder).free - leave
                f.write(block[: max(4096, min(len(block), room))])
                f.flush()
        except OSError:
            pass
    return filler


def test_disk_full_mid_run_then_resume(reference, tmp_path):
    """A tmpfs that fills up while the sweep writes: one line (the disk is full, where, and
    that --resume continues), the partial kept; once there is room --resume completes it."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs (test_file_size_limit covers the rest)")
    need = result_bytes(make_plan(rel_config(), chunk_size=CHUNK))
    # the file, then its compressed copy (sweep.storage.space.check_disk asks for both)
    with tmpfs(tmp_path / "fs", 2 * need + 256 * 2**10) as fs:
        config = write_config(tmp_path / "c.toml", rel_config())
        out = fs / "r.nc"
        run = start(config, out)
        wait_for_chunks(run, out, 5)
        with paused(run):
            filler = fill(fs)
        stdout, stderr = run.communicate(timeout=120)
        assert run.returncode == 2, (stdout, stderr)
        line = one_line_error(stderr)
        assert "the disk is full" in line and str(fs) in line and "--resume" in line, line
        done = journaled(out)
        assert 5 <= done < N_CHUNKS and f"{done} of {N_CHUNKS} chunks are kept" in line, line
        assert not out.exists() and sorted(os.listdir(fs)) == [
            "filler",
            "r.nc.partial",
            "r.nc.partial.json",
        ]
        filler.unlink()
        stats: dict = {}
        ds = sweep.run(config, out=out, resume=True, stats=stats)
        assert stats["computed"] == N_CHUNKS - done
        assert_same_result(ds, reference)
        ds.close()
        assert sorted(os.listdir(fs)) == ["r.nc"]


def test_disk_full_while_the_file_is_set_up_leaves_nothing(tmp_path, monkeypatch):
    """Space gone between the estimate and the file's set-up: one line, and no partial file
    that would make the next run ask for --resume."""
    with tmpfs(tmp_path / "fs", 256 * 2**10) as fs:
        fill(fs, leave=16 * 2**10)
        monkeypatch.setattr(sweep.storage.netcdf, "check_disk", lambda *a, **k: None)
        out = fs / "r.nc"
        with pytest.raises(ConfigError, match="the disk is full") as err:
            sweep.run(rel_config(), out=out, chunk_size=CHUNK)
        assert "--resume" not in str(err.value)
        assert sorted(os.listdir(fs)) == ["filler"]
        monkeypatch.undo()
        with pytest.raises(ConfigError, match="the result needs about") as err:
            sweep.run(rel_config(), out=out)  # not blocked by leftovers: refused for its size
        assert str(fs) in str(err.value)


LIMITED = """
import resource, signal, sys
import sweep.storage.netcdf
from sweep.cli.main import main
# the up-front check would refuse: see it fail
sweep.storage.netcdf.check_disk = lambda *a, **k: None
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.exit(main(sys.argv[2:]))
"""


def test_file_size_limit(tmp_path, monkeypatch):
    """``ulimit -f`` smaller than the result: refused up front; and if the limit bites anyway
    (the check bypassed, in a child process), one line and nothing left behind."""
    config = write_config(tmp_path / "c.toml", rel_config())
    out = tmp_path / "r.nc"
    limit = 256 * 2**10
    proc = subprocess.run(
        [sys.executable, "-c", LIMITED, str(limit), "run", str(config), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    line = one_line_error(proc.stderr)
    assert "ulimit -f" in line and "nothing was written" in line, line
    assert sorted(os.listdir(tmp_path)) == ["c.toml"]
    import sweep.storage.space

    real = resource.getrlimit
    monkeypatch.setattr(
        sweep.storage.space.resource,
        "getrlimit",
        lambda which: (limit, limit) if which == resource.RLIMIT_FSIZE else real(which),
    )
    with pytest.raises(ConfigError, match=r"may not exceed 256.0 KiB \(ulimit -f\)"):
        sweep.run(rel_config(), out=out)
    assert sorted(os.listdir(tmp_path)) == ["c.toml"]


@pytest.mark.parametrize("flags", [(), ("--overwrite",), ("--resume",)])
def test_read_only_file_system(flags, tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", rel_config())
    with tmpfs(tmp_path / "ro", 2**20, "ro") as ro:
        assert main(["run", str(config), "--out", str(ro / "r.nc"), *flags]) == 2
        line = one_line_error(capsys.readouterr().err)
        assert "read-only file system" in line and str(ro) in line, line
        assert main(["run", str(config), "--out", str(ro / "sub" / "r.nc"), *flags]) == 2
        assert "read-only file system" in one_line_error(capsys.readouterr().err)
        assert os.listdir(ro) == []


# --- files that are not sweep results, nothing to resume, a reader that goes away ---------------
def test_resume_onto_a_file_that_is_not_a_sweep_result(tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", rel_config())
    out = tmp_path / "r.nc"
    out.write_bytes(b"precious, and not netCDF")
    assert main(["run", str(config), "--out", str(out), "--resume"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "not a sweep result" in line and "--overwrite" in line
    assert out.read_bytes() == b"precious, and not netCDF"
    xr.Dataset({"x": ("t", np.arange(3.0))}).to_netcdf(out)
    assert main(["run", str(config), "--out", str(out), "--resume"]) == 2
    assert "not a sweep result" in one_line_error(capsys.readouterr().err)
    assert sorted(os.listdir(tmp_path)) == ["c.toml", "r.nc"]


def test_info_and_plot_refuse_netcdf_files_that_are_not_sweep_results(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # a short name: the message shortens long values
    other = Path("other.nc")
    xr.Dataset({"x": ("t", np.arange(3.0))}, attrs={"title": "not a sweep"}).to_netcdf(other)
    for command in (["info", str(other)], ["plot", str(other), "--out", "f"]):
        assert main(command) == 2
        line = one_line_error(capsys.readouterr().err)
        assert "not a sweep result" in line and str(other) in line, line
    assert sorted(os.listdir(tmp_path)) == ["other.nc"]  # no figure folder


def test_nothing_to_resume_and_the_option_to_replace(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "c.toml", rel_config())
    assert main(["run", str(config), "--resume"]) == 0  # the default output
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"nothing to resume: no interrupted run at outputs/reliability.nc; "
        f"computed the whole sweep ({len(make_plan(rel_config()).chunks)} chunks)"
    )
    assert lines[1].startswith("wrote outputs/reliability.nc")
    assert main(["run", str(config)]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "--overwrite" in line and "--out" not in line.split(":")[1], line


@pytest.mark.slow
def test_info_into_a_closed_pipe_exits_quietly(reference, tmp_path):
    """`sweep info r.nc | head`: the reader is gone before sweep writes; no traceback, the
    status of a process that SIGPIPE ended (as `cat`, `ls` ... end)."""
    out = reference.encoding["source"]
    proc = subprocess.Popen(
        [*SWEEP, "info", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
    )
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert stderr == "" and proc.returncode == 128 + signal.SIGPIPE, (proc.returncode, stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
