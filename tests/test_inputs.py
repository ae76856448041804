"""Bad input and lost clusters, as users meet them (issue "Reliability").

Every bad input is one line on stderr naming the key, file or value at fault, exit status 2, no
traceback, before any work (no output, no partial file): configs that are not UTF-8, names no
file can take, finite numbers whose paths or results overflow, integers past the documented
maxima, scheduler addresses no Dask scheduler listens on, ``fee_rate`` nothing reads, CSV dates
with gaps. Each runs as a real ``sweep run`` process; they run side by side to keep this fast.

A scheduler killed mid-sweep is one line and exit status 1, saying that ``--resume``
continues, which it does. The plan goes to a Dask cluster once, not inside every task; Monte
Carlo paths are built vectorised, validated by bounds before work (or built and checked when the
bounds leave it open) and again as the chunks build them.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import time
from dataclasses import dataclass

import numpy as np
import pytest
from test_cluster import running_cluster
from test_execution import SWEEP, assert_same_result, write_config
from test_resume import journaled, slow_config
from tomli_w import dumps

import sweep
from sweep.config.load import load_config
from sweep.config.schema import MAX_CHUNK_SIZE, MAX_DAYS, MAX_PATHS, MAX_TICKS
from sweep.engine.paths import path_source
from sweep.engine.plan import make_plan
from sweep.errors import ConfigError

BIG = 2**63 - 1


def tiny(**changes) -> dict:
    """A sweep of 2 scenarios over 20 days of a random path: valid as it stands."""
    config = {
        "name": "tiny",
        "sweep": {"days": 20},
        "path": {"kind": "gbm", "mark_price": 1000.0, "volatility": 0.5, "traded_volume": 1e6},
        "network": {"v": [1.0, 2.0]},
        "lp": [
            {
                "name": "A",
                "shape": "uniform",
                "commit": [{"day": 1, "stake": 1000.0, "fee_bid": 0.001}],
            }
        ],
    }
    for dotted, value in changes.items():
        node = config
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        node[int(last) if last.isdigit() else last] = value
    return config


CSV_WITH_GAP = (
    "Date,Close,Volume\n2021-01-01,10,100\n2021-01-02,11,120\n2021-01-04,12,90\n2021-01-05,12,90\n"
)


@dataclass
class Case:
    config: dict | bytes
    key: str  # what the one line must name first
    args: tuple[str, ...] = ()
    also: str = ""  # more text the line must hold
    files: dict[str, str] | None = None  # other files beside the config
    process: bool = False  # also as a `sweep run` process (one case of each kind: they are slow)


CASES = {
    "config not UTF-8": Case(
        b'name = "x"\n# caf\xe9 au lait\n', "config file", also="UTF-8", process=True
    ),
    "name with a NUL": Case(tiny(name="a\x00b"), "name", also="control character", process=True),
    "name with a newline": Case(tiny(name="a\nb"), "name", also="control character"),
    "name too long for a file": Case(tiny(name="x" * 253), "name", also="at most 255"),
    "mu out of range": Case(tiny(**{"risk.mu": 1e300}), "[risk] mu", also="out of range"),
    "mu whose exp overflows": Case(tiny(**{"risk.mu": 1e20}), "[risk] mu", also="risk factors"),
    "lambd too small": Case(tiny(**{"risk.lambd": 1e-20}), "[risk] lambd"),
    "drift 1e6": Case(
        tiny(**{"path.drift": 1e6}), "[path] drift", also="mark_price path", process=True
    ),
    "volume_growth 1e6": Case(tiny(**{"path.volume_growth": 1e6}), "[path] volume_growth"),
    "volatility 1e6": Case(tiny(**{"path.volatility": 1e6}), "[path] volatility"),
    "volume_volatility 1e6": Case(
        tiny(**{"path.volume_volatility": 1e6}), "[path] volume_volatility"
    ),
    "oi_drift 1e6": Case(
        tiny(**{"path.open_interest": 1e6, "path.oi_drift": 1e6}), "[path] oi_drift"
    ),
    "mark_price 1e308": Case(tiny(**{"path.mark_price": 1e308}), "[path] mark_price"),
    "stake 1e300": Case(
        tiny(**{"lp.0.commit": [{"day": 1, "stake": 1e300, "fee_bid": 0.001}]}),
        "[[lp]] A commit[0] stake",
        also="out of range",
        process=True,
    ),
    "stake 1e-300": Case(
        tiny(**{"lp.0.commit": [{"day": 1, "stake": 1e-300, "fee_bid": 0.1}]}),
        "[[lp]] A commit[0] stake",
    ),
    "fee_bid 1e300": Case(
        tiny(**{"lp.0.commit": [{"day": 1, "stake": 10.0, "fee_bid": 1e300}]}),
        "[[lp]] A commit[0] fee_bid",
    ),
    "table value 1e300": Case(
        tiny(path={"kind": "table", "mark_price": [10.0] * 5, "traded_volume": [1e300] * 5}),
        "[path] traded_volume",
    ),
    "integer beyond float64": Case(tiny(**{"network.v": [1, 10**400]}), "[network] v"),
    "days 2**63-1": Case(
        tiny(**{"sweep.days": BIG}), "[sweep] days", also=f"{MAX_DAYS:,}", process=True
    ),
    "chunk_size 2**63-1": Case(
        tiny(**{"sweep.chunk_size": BIG}), "[sweep] chunk_size", also=f"{MAX_CHUNK_SIZE:,}"
    ),
    "paths 2**63-1": Case(
        tiny(**{"sweep.paths": BIG}), "[sweep] paths", also=f"{MAX_PATHS:,}", process=True
    ),
    "num_ticks 2**63-1": Case(
        tiny(**{"market.num_ticks": BIG}), "[market] num_ticks", also=f"{MAX_TICKS:,}"
    ),
    "valuation_period past int64": Case(
        tiny(**{"network.valuation_period": 10**20}), "[network] valuation_period"
    ),
    "--chunk-size 2**63-1": Case(
        tiny(), "--chunk-size", args=("--chunk-size", str(BIG)), process=True
    ),
    "scheduler ws://": Case(
        tiny(), "--scheduler", args=("--scheduler", "ws://127.0.0.1:1"), also="tcp://", process=True
    ),
    "scheduler inproc://": Case(tiny(), "--scheduler", args=("--scheduler", "inproc://x/1/2")),
    "fee_rate without fee_rule given": Case(
        tiny(**{"mechanism.fee_rate": 0.01}), "[mechanism] fee_rate", also="given", process=True
    ),
    "csv dates with a gap": Case(
        tiny(path={"kind": "csv", "file": "market.csv"}, **{"sweep.days": 4}),
        "[path] file",
        also="2021-01-02 is followed by 2021-01-04",
        files={"market.csv": CSV_WITH_GAP},
        process=True,
    ),
}


def write_case(folder, case: Case):
    """The case's config as ``c.toml`` in a new ``folder``, with its other files."""
    folder.mkdir()
    config = folder / "c.toml"
    if isinstance(case.config, bytes):
        config.write_bytes(case.config)
    else:
        config.write_text(dumps(case.config))
    for file, text in (case.files or {}).items():
        (folder / file).write_text(text)
    return folder


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Every case's ``sweep run``, a few side by side: (returncode, stderr, folder, the
    folder's files before the run)."""
    root = tmp_path_factory.mktemp("inputs")
    waiting = [(i, (name, case)) for i, (name, case) in enumerate(CASES.items()) if case.process]
    running: dict[str, tuple] = {}
    done = {}
    at_once = 2 * (os.cpu_count() or 1)
    while waiting or running:
        while waiting and len(running) < at_once:
            i, (name, case) = waiting.pop(0)
            folder = write_case(root / f"case{i}", case)
            before = sorted(os.listdir(folder))
            proc = subprocess.Popen(
                [*SWEEP, "run", "c.toml", *case.args],
                cwd=folder,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            running[name] = (proc, folder, before)
        name = next(iter(running))
        proc, folder, before = running.pop(name)
        try:
            _, stderr = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
        done[name] = (proc.returncode, stderr, folder, before)
    return done


def check_one_line(case: Case, returncode: int, stderr: str, folder, before) -> None:
    assert returncode == 2, stderr
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"sweep: error: {case.key}"), lines[0]
    assert case.also in lines[0], lines[0]
    assert sorted(os.listdir(folder)) == before  # nothing written: no outputs/, no partial


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_and_exit_2(name, tmp_path, monkeypatch, capsys):
    """Every case through the command line's own code, in this process."""
    from sweep.cli.main import main

    folder = write_case(tmp_path / "case", CASES[name])
    before = sorted(os.listdir(folder))
    monkeypatch.chdir(folder)
    returncode = main(["run", "c.toml", *CASES[name].args])
    check_one_line(CASES[name], returncode, capsys.readouterr().err, folder, before)


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case.process])
@pytest.mark.slow
def test_bad_input_as_a_sweep_run_process(name, outcomes):
    """One case of each kind as the real `sweep run` process: nothing else reaches stderr."""
    check_one_line(CASES[name], *outcomes[name])


@pytest.mark.slow
def test_a_scheduler_of_another_scheme_fails_at_once(tmp_path):
    """A client tries any address until its timeout (5 s; `inproc://` 10 s more to close)."""
    path = write_config(tmp_path / "c.toml", tiny())

    def timed(*args: str) -> tuple[subprocess.CompletedProcess, float]:
        started = time.monotonic()
        command = [*SWEEP, "run", str(path), *args]
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        return done, time.monotonic() - started

    # against a dry run's start-up on this machine now, not a fixed number of seconds: the
    # refusal must come before any client waits out its 5 s timeout
    _, start_up = timed("--dry-run")
    done, took = timed("--scheduler", "ws://127.0.0.1:1")
    assert done.returncode == 2, done.stderr
    assert "give a TCP or TLS address" in done.stderr
    assert took < start_up + 3.0, (took, start_up)
    from sweep.execution.executors import check_scheduler

    for address in ("inproc://x/1/2", "ucx://127.0.0.1:8786", "ws://h:1", "://h:1"):
        with pytest.raises(ConfigError, match="give a TCP or TLS address"):
            check_scheduler(address)


def test_huge_integers_fail_at_once():
    """`paths = 2**63-1` never returned; every documented maximum answers at once."""
    for key in ("sweep.days", "sweep.chunk_size", "sweep.paths", "sweep.seed",
                "market.num_ticks", "network.stake_target_period", "sla.epoch_days",
                "sla.performance_hysteresis_epochs"):  # fmt: skip
        for value in (2**64, 10**30) + ((BIG,) if key != "sweep.seed" else ()):
            started = time.perf_counter()
            with pytest.raises(ConfigError, match="documented maximum"):
                make_plan(tiny(**{key: value}))
            assert time.perf_counter() - started < 1


def test_the_errors_name_the_value_in_the_python_api_too():
    with pytest.raises(ConfigError, match=r"^\[risk\] mu = 1e\+300: is out of range"):
        sweep.run(tiny(**{"risk.mu": 1e300}))
    with pytest.raises(ConfigError, match=r"^name = 'a\\x00b'"):
        sweep.run(tiny(name="a\x00b"))
    with pytest.raises(ConfigError, match=r"^chunk_size = "):
        sweep.run(tiny(), chunk_size=BIG)


def test_the_range_of_numbers_is_inclusive_and_zero_is_fine():
    load_config(tiny(**{"lp.0.commit": [{"day": 1, "stake": 1e30, "fee_bid": 0.0}]}))
    load_config(tiny(**{"lp.0.commit": [{"day": 0, "stake": 1e-30, "fee_bid": 1e-30}]}))
    with pytest.raises(ConfigError, match="out of range"):
        load_config(tiny(**{"network.v": [1.0, 1.01e30]}))


def test_chunk_size_larger_than_the_sweep_is_cut_to_it(tmp_path):
    config = tiny()
    plan = make_plan(config, chunk_size=MAX_CHUNK_SIZE)
    assert plan.chunk_size == plan.n_scenarios == 2 and len(plan.chunks) == 1
    config["sweep"]["chunk_size"] = 10**6
    assert make_plan(config).chunk_size == 2
    path = write_config(tmp_path / "c.toml", tiny())
    done = subprocess.run(
        [*SWEEP, "run", str(path), "--out", "r.nc", "--chunk-size", str(MAX_CHUNK_SIZE)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    with sweep.load(tmp_path / "r.nc") as ds:
        assert_same_result(ds, sweep.run(tiny(), scheduler="synchronous"))


@pytest.mark.slow
def test_sweep_run_default_means_a_file_called_default_when_there_is_one(tmp_path, monkeypatch):
    mine = tiny(name="mine")
    (tmp_path / "default").write_text(dumps(mine))
    done = subprocess.run([*SWEEP, "run", "default"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "outputs" / "mine.nc").is_file()
    assert not (tmp_path / "outputs" / "default.nc").exists()
    # without such a file, `default` (or no config at all) is the embedded sweep
    from sweep import runner
    from sweep.cli import main as cli

    seen = []
    monkeypatch.setattr(runner, "run_to_store", lambda config, **kw: seen.append(config) or 1 / 0)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    for argv in (["run", "default"], ["run"]):
        with pytest.raises(ZeroDivisionError):
            cli.main(argv)
    assert [c.name for c in seen] == ["default", "default"]
    assert seen[0].toml == cli.default_config_path().read_text()


def test_fee_rate_is_read_with_fee_rule_given_in_play():
    with pytest.raises(ConfigError, match=r"^\[mechanism\] fee_rate .*not in play"):
        load_config(tiny(**{"mechanism.fee_rate": [0.01]}))
    config = load_config(
        tiny(**{"mechanism.fee_rate": 0.01, "mechanism.fee_rule": ["marginal", "given"]})
    )
    assert config.fee_rate == (0.01,)


def test_csv_gaps_are_named_and_a_range_around_them_is_fine(tmp_path):
    (tmp_path / "m.csv").write_text(CSV_WITH_GAP)
    config = tiny(path={"kind": "csv", "file": str(tmp_path / "m.csv")})
    with pytest.raises(ConfigError) as err:
        make_plan(config)
    assert err.value.key == "[path] file"
    assert "2021-01-02 is followed by 2021-01-04 (data row 3; 1 day missing)" in str(err.value)
    config["path"]["start"] = "2021-01-04"
    config["lp"][0]["commit"][0]["day"] = 0
    assert make_plan(config).n_days == 2
    (tmp_path / "twice.csv").write_text(CSV_WITH_GAP.replace("2021-01-04,", "2021-01-02 12:00,"))
    config["path"] = {"kind": "csv", "file": str(tmp_path / "twice.csv")}
    with pytest.raises(ConfigError, match="two rows on one day"):
        make_plan(config)


# --- Monte Carlo paths ------------------------------------------------------------------------
def mc(paths: int, volatility: float = 0.8, **path) -> dict:
    config = tiny(**{"sweep.paths": paths, "sweep.days": 365, "path.volatility": volatility})
    config["path"].update(path)
    return config


def test_monte_carlo_paths_are_validated_by_bounds_without_building_them():
    """10^6 paths took 47.5 s of validation, one path at a time; the bounds settle it."""
    started = time.perf_counter()
    plan = make_plan(mc(1_000_000))
    assert time.perf_counter() - started < 5
    assert plan.n_paths == 1_000_000


def test_paths_the_bounds_leave_open_are_built_and_checked_before_work():
    """volatility 2.5 over a year may reach the book's floor (0.1 below 1000): path 26 does."""
    with pytest.raises(ConfigError) as err:
        make_plan(mc(100, 2.5))
    assert err.value.key == "[market] tick_size"
    assert "path 26, day 343" in str(err.value)
    make_plan(mc(20, 2.5))  # its first 20 paths stay above it


def test_vectorised_paths_equal_paths_built_one_at_a_time():
    source = path_source(load_config(mc(6, volatility=[0.3, 1.1], drift=[0.0, 0.4],
                                        open_interest=5e5)))  # fmt: skip
    ids = np.array([(s, p) for p in (5, 0, 3) for s in (3, 0, 2)])
    price, volume, oi = source.build_many(ids)
    for row, (s, p) in enumerate(ids):
        rng = np.random.default_rng([source.seed, int(p)])
        z_price, z_volume, z_oi = rng.standard_normal((3, source.n_days))
        params = source.setting(int(s))
        dt = 1 / 365
        vol, ov, vv = params["volatility"], params["oi_volatility"], params["volume_volatility"]
        steps = (params["drift"] - 0.5 * vol * vol) * dt + vol * np.sqrt(dt) * z_price
        steps[0] = 0.0
        np.testing.assert_array_equal(price[row], params["mark_price"] * np.exp(np.cumsum(steps)))
        expected = params["traded_volume"] * np.exp(
            params["volume_growth"] * np.arange(source.n_days) * dt + vv * z_volume - 0.5 * vv * vv
        )
        np.testing.assert_array_equal(volume[row], expected)
        steps = (params["oi_drift"] - 0.5 * ov * ov) * dt + ov * np.sqrt(dt) * z_oi
        steps[0] = 0.0
        np.testing.assert_array_equal(oi[row], params["open_interest"] * np.exp(np.cumsum(steps)))


def test_paths_are_checked_again_as_the_chunks_build_them():
    source = path_source(load_config(mc(100, 2.5)))  # not checked: make_plan would refuse it
    source.build_many(np.array([[0, p] for p in range(26)]))
    with pytest.raises(ConfigError, match=r"path 26, day 343"):
        source.build_many(np.array([[0, p] for p in range(20, 30)]))


def test_a_path_a_chunk_finds_out_of_range_is_bad_input(tmp_path, monkeypatch, capsys):
    """Were a path to pass the bounds and leave the range (probability below 1e-15), the chunk
    that builds it stops the run with the same one line, also from a Dask worker."""
    import sweep.engine.plan
    from sweep.cli.main import main

    monkeypatch.setattr(sweep.engine.plan, "check_paths", lambda source, config: None)
    path = write_config(tmp_path / "c.toml", mc(40, 2.5))
    assert main(["run", str(path), "--out", str(tmp_path / "r.nc"), "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sweep: error: [market] tick_size") and "path 26" in err, err
    assert err.count("\n") == 1
    error = ConfigError("[path] drift", 1e6, "reason")
    again = pickle.loads(pickle.dumps(error))  # how a worker's error reaches the client
    assert (again.key, again.value, again.reason, str(again)) == (
        error.key,
        error.value,
        error.reason,
        str(error),
    )


# --- a Dask cluster: the plan shipped once, a scheduler lost ----------------------------------
class Spy:
    """A client that records what it is asked to send."""

    def __init__(self, client) -> None:
        self.client = client
        self.submitted: list[tuple] = []
        self.mapped: list[tuple] = []

    def submit(self, *args, **kwargs):
        self.submitted.append((args, kwargs))
        return self.client.submit(*args, **kwargs)

    def map(self, *args, **kwargs):
        self.mapped.append((args, kwargs))
        return self.client.map(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_the_plan_goes_to_the_cluster_once_and_tasks_stay_small():
    """A long list made every task carry the plan (7.6 GB for 10^6 values); now one task holds
    it and the others carry a chunk and the plan's key."""
    from distributed import Client, LocalCluster

    from sweep.engine.compute import compute_chunk
    from sweep.engine.plan import Plan
    from sweep.execution.executors import _distributed

    config = tiny(**{"network.v": [1.0 + i / 1000 for i in range(20_000)], "sweep.days": 5,
                     "sweep.reduce": "summary"})  # fmt: skip
    plan = make_plan(config, chunk_size=2_000)
    assert len(plan.chunks) == 10
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        spy = Spy(client)
        results = dict((chunk.index, values) for chunk, values in
                       _distributed(spy, plan, plan.chunks))  # fmt: skip
    assert len(spy.submitted) == 1 and isinstance(spy.submitted[0][0][1], Plan)
    assert spy.submitted[0][0][1].config.toml == ""  # the TOML text stays home
    plan_bytes = len(pickle.dumps(plan))
    for args, kwargs in spy.mapped:
        assert not any(isinstance(a, Plan) for a in args[1]) and "plan" in kwargs
        per_task = len(pickle.dumps(args[1])) / len(args[1])
        assert per_task < 1000 < plan_bytes / 100
    for chunk in plan.chunks:
        expected = compute_chunk(plan, chunk)
        for name, values in expected.items():
            np.testing.assert_array_equal(results[chunk.index][name], values)


@pytest.fixture
def cluster_to_kill(tmp_path):
    """A `dask scheduler` and one `dask worker` on 127.0.0.1, as processes."""
    with running_cluster(tmp_path, 1) as cluster:
        yield cluster.address, cluster.scheduler


@pytest.mark.slow
def test_a_lost_scheduler_is_one_line_and_resume_continues(cluster_to_kill, tmp_path):
    address, scheduler = cluster_to_kill
    config = slow_config()
    config["sweep"]["paths"] = 360  # long enough that the kill lands mid-sweep
    path = write_config(tmp_path / "c.toml", config)
    out = tmp_path / "r.nc"
    proc = subprocess.Popen(
        [*SWEEP, "run", str(path), "--out", str(out), "--scheduler", address,
         "--chunk-size", "40"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while journaled(out) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()
    os.kill(scheduler.pid, signal.SIGKILL)
    scheduler.wait()
    killed = time.monotonic()
    _, stderr = proc.communicate(timeout=120)
    assert time.monotonic() - killed < 30
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "scheduler" in lines[0] and "--resume" in lines[0], lines[0]
    kept = journaled(out)
    assert kept >= 2 and not out.exists()
    # what the line says: --resume continues (here on this machine's threads)
    done = subprocess.run([*SWEEP, "run", str(path), "--out", str(out), "--resume"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"resumed: {kept} of" in done.stdout
    with sweep.load(out) as ds:
        assert_same_result(ds, sweep.run(config, chunk_size=40))
