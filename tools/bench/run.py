"""``make bench``: redemptions per second under gunicorn + PostgreSQL, next to the ceiling.

Steps, all from a clean slate:

1. drop and recreate the dedicated database (``giftwell_bench``; the name must contain
   "bench"), migrate it, clear this benchmark's keys in Redis;
2. create a merchant, an API key and the cards through the services
   (``tools.bench.django_tasks prepare``), writing ids and codes to a file for wrk; then
   VACUUM ANALYZE, CHECKPOINT and wait for an idle machine;
3. start ``gunicorn config.wsgi`` with 4 sync workers and production settings
   (DEBUG off, Redis cache, LOG_LEVEL=WARNING, SECURE_SSL_REDIRECT=false with
   ``X-Forwarded-Proto: https`` sent by wrk as a TLS proxy would);
4. run wrk (``tools/bench/bench.lua``) for each scenario, in interleaved rounds, recording the
   CPU each request costs (from /proc) and how idle and how fast the machine was before
   each run: the plain /healthz view (the ceiling), DRF reads, redemptions by id on
   distinct cards and on one hot card, by code; and, for reference, /healthz of a bare
   Django project (``tools/bench/bare.py``) on the same gunicorn;
5. stop gunicorn, check the ledger (``verify_ledger`` and the benchmark's own sums),
   profile in-process (``tools.bench.django_tasks profile``);
6. print a markdown report and refresh the results section of docs/performance.md.

    python -m tools.bench.run [--duration 10] [--rounds 3] [--connections 16] [--cards 20000]
    python -m tools.bench.run --git-ref HEAD --docs-block baseline   # a committed revision
    python -m tools.bench.run --render-only /tmp/giftwell-bench      # re-render the last run
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
LUA = Path(__file__).resolve().parent / "bench.lua"
DOCS = ROOT / "docs" / "performance.md"
MUST_RATIO = 0.11
AIM_RATIO = 0.25
MUST_P99_MS = 50.0


@dataclass(frozen=True)
class Scenario:
    name: str
    mode: str
    title: str
    redeems: bool = False


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("ceiling", "healthz", "GET /healthz (plain Django JSON view)"),
    Scenario("read", "read", "GET card, distinct cards (DRF read, cache cold)"),
    Scenario("read_hot", "read_hot", "GET card, one card (DRF read, cache hit)"),
    Scenario("redeem", "redeem", "redeem by id, distinct cards", redeems=True),
    Scenario("redeem_hot", "redeem_hot", "redeem by id, one hot card", redeems=True),
    Scenario("redeem_code", "redeem_code", "redeem by code, distinct cards", redeems=True),
)
BARE = Scenario("bare", "healthz", "reference: bare Django project, GET /healthz")
WARMUPS: tuple[str, ...] = ("healthz", "read_hot", "redeem", "redeem_code")


@dataclass
class WrkResult:
    scenario: Scenario
    requests: int
    seconds: float
    ok: int
    bad: int
    replays: int
    statuses: dict[str, int]
    socket_errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    sample: str
    busy_before: float
    probe_ms: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    round_rps: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_busy(self) -> float:
        capacity = self.cpu.get("capacity", 0.0)
        return self.cpu.get("machine", 0.0) / capacity if capacity else 0.0

    def cpu_ms(self, group: str) -> float:
        """CPU milliseconds per request spent by ``group`` during the run."""
        return self.cpu.get(group, 0.0) / self.requests * 1000 if self.requests else 0.0

    @property
    def errors(self) -> int:
        return self.bad + self.replays + sum(self.socket_errors.values())


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _run(
    command: Sequence[str | Path],
    *,
    env: dict[str, str],
    check: bool = True,
    timeout: float | None = None,
    cwd: Path = ROOT,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 - fixed argument lists, no shell
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        say(result.stdout[-4000:])
        say(result.stderr[-4000:])
        raise SystemExit(f"failed ({result.returncode}): {' '.join(map(str, command))}")
    return result


def _venv_bin(name: str) -> Path:
    candidate = ROOT / ".venv" / "bin" / name
    if candidate.exists():
        return candidate
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: run `make install` first.")
    return Path(found)


# --- environment, database, cache ------------------------------------------------------------


def bench_env(
    database_url: str, redis_url: str, log_level: str, app_root: Path, work: Path
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DEBUG="false",
        SECRET_KEY="bench-" + secrets.token_urlsafe(48),
        GIFTCARD_CODE_KEY="bench-" + secrets.token_urlsafe(32),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SITE_URL="https://localhost",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CACHE_KEY_PREFIX="gwbench",
        SECURE_SSL_REDIRECT="false",
        # Nothing here takes a payment; the guard wants the test provider named.
        PAYMENT_TEST_PROVIDER_ALLOWED="true",
        LOG_LEVEL=log_level,
        DJANGO_READ_DOT_ENV_FILE="false",
        # collectstatic writes here, and whitenoise serves from here, as deployed.
        STATIC_ROOT=str(work / "static"),
        # The app from app_root (the working tree or an exported revision), bench from here.
        PYTHONPATH=os.pathsep.join(dict.fromkeys([str(app_root), str(ROOT)])),
    )
    return env


def reset_database(database_url: str) -> str:
    """Drop and create the benchmark database; returns its name."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"Refusing to drop database {name!r}: its name must contain 'bench'.")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def reset_cache(redis_url: str) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match="gwbench:*", count=1000))
    if keys:
        client.delete(*keys)
    return len(keys)


def settle_database(database_url: str) -> None:
    """Fresh statistics and a checkpoint, so autovacuum and the checkpointer do not run
    through the first scenarios after 40,000 inserts."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def _server_version(database_url: str) -> str:
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


# --- gunicorn --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(
    env: dict[str, str], port: int, workers: int, log: Path, app: str, cwd: Path, out: Path
) -> subprocess.Popen[bytes]:
    """gunicorn as an operator runs it; the app's own log lines (JSON, one per line, on
    stdout as shipped) go to ``out``, a file, as a process manager would keep them."""
    command = [
        str(_venv_bin("gunicorn")),
        app,
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--error-logfile",
        str(log),
    ]
    with out.open("ab") as sink:
        return subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
            command, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT
        )


def wait_healthy(port: int, server: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    url = f"http://127.0.0.1:{port}/healthz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(request, timeout=2) as response,  # noqa: S310 - localhost
        ):
            if response.status == 200:
                return
        time.sleep(0.25)
    raise SystemExit(f"gunicorn did not answer /healthz within {timeout:.0f} s")


@contextlib.contextmanager
def serving(
    env: dict[str, str],
    port: int,
    workers: int,
    log: Path,
    cwd: Path,
    app: str = "config.wsgi",
) -> Iterator[subprocess.Popen[bytes]]:
    log.write_text("")
    out = log.with_suffix(".out")
    out.write_bytes(b"")
    server = start_gunicorn(env, port, workers, log, app, cwd, out)
    say(f"== gunicorn {app}, pid {server.pid}, on 127.0.0.1:{port}")
    try:
        wait_healthy(port, server, log, timeout=60)
        yield server
    finally:
        stop_gunicorn(server)
        say(f"== gunicorn pid {server.pid} stopped ({server.returncode})")


def stop_gunicorn(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the master we started (it stops its workers), SIGKILL if it hangs."""
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


# --- CPU accounting -------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, parent pid, CPU seconds so far) for every process."""
    found: dict[int, tuple[str, int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            raw = (entry / "stat").read_text()
            comm = raw[raw.index("(") + 1 : raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2 :].split()
            found[int(entry.name)] = (
                comm,
                int(fields[1]),
                (int(fields[11]) + int(fields[12])) / _TICK,
            )
    return found


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / _TICK, total / _TICK


def _group(pid: int, comm: str, ppid: int, server_pid: int | None) -> str:
    if server_pid is not None and server_pid in (pid, ppid):
        return "app"
    if comm == "postgres" or comm.startswith("postgres:"):
        return "postgres"
    if comm.startswith("redis-server"):
        return "redis"
    return "other"


def cpu_split(
    before: dict[int, tuple[str, int, float]],
    after: dict[int, tuple[str, int, float]],
    server_pid: int | None,
) -> dict[str, float]:
    """CPU seconds per group (gunicorn app, PostgreSQL, Redis) between two snapshots."""
    spent: dict[str, float] = {"app": 0.0, "postgres": 0.0, "redis": 0.0}
    for pid, (comm, ppid, seconds) in after.items():
        group = _group(pid, comm, ppid, server_pid)
        if group in spent:
            earlier = before.get(pid)
            spent[group] += seconds - (earlier[2] if earlier and earlier[0] == comm else 0.0)
    return spent


def busy_fraction(seconds: float) -> float:
    """Share of the machine's CPU busy over the next ``seconds``."""
    busy0, total0 = _machine_busy()
    time.sleep(seconds)
    busy1, total1 = _machine_busy()
    return (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0


def cpu_probe() -> float:
    """Milliseconds for a fixed pure-Python workload (best of 3): the machine's speed at
    that moment. A virtual machine's host can slow it without any sign in /proc."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(200_000):
            total += i * i % 7
        best = min(best, time.perf_counter() - started)
    return best * 1000


def wait_quiet(limit: float = 120.0, threshold: float = 0.15) -> float:
    """Wait (up to ``limit`` s) until the machine is mostly idle; returns the last busy share."""
    deadline = time.monotonic() + limit
    busy = busy_fraction(2)
    while busy > threshold and time.monotonic() < deadline:
        busy = busy_fraction(2)
    return busy


# --- wrk -------------------------------------------------------------------------------------


def run_wrk(
    scenario: Scenario,
    *,
    port: int,
    work: Path,
    run_id: str,
    seconds: int,
    connections: int,
    threads: int,
    env: dict[str, str],
    server_pid: int | None = None,
    pause: float = 2.0,
    tag: str = "",
    offset: int = 0,
) -> WrkResult:
    busy_before = busy_fraction(pause)
    probe_ms = cpu_probe()
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}",
        "--",
        scenario.mode,
        str(work / "cards.tsv"),
        str(work / "api_key.txt"),
        f"{run_id}-{scenario.name}{tag}",
        str(threads),
        str(offset),
    ]
    procs_before, machine_before = _processes(), _machine_busy()
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = _run(command, env=env, check=False, timeout=seconds + 60)
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs_after, machine_after = _processes(), _machine_busy()
    cpu = cpu_split(procs_before, procs_after, server_pid)
    cpu["wrk"] = (wrk_after.ru_utime + wrk_after.ru_stime) - (
        wrk_before.ru_utime + wrk_before.ru_stime
    )
    cpu["machine"] = machine_after[0] - machine_before[0]
    cpu["other"] = max(
        0.0, cpu["machine"] - sum(cpu[k] for k in ("app", "postgres", "redis", "wrk"))
    )
    cpu["capacity"] = machine_after[1] - machine_before[1]
    (work / f"wrk-{scenario.name}{tag}.txt").write_text(result.stdout + result.stderr)
    match = re.search(r"^BENCH_JSON (.*)$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed for {scenario.name}:\n{result.stdout}\n{result.stderr}")
    data = json.loads(match.group(1))
    latency = data["latency_us"]
    return WrkResult(
        scenario=scenario,
        requests=int(data["requests"]),
        seconds=int(data["duration_us"]) / 1e6,
        ok=int(data["ok"]),
        bad=int(data["bad"]),
        replays=int(data["replays"]),
        statuses={str(k): int(v) for k, v in data["statuses"].items()},
        socket_errors={str(k): int(v) for k, v in data["errors"].items() if k != "status"},
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        mean_ms=latency["mean"] / 1000,
        max_ms=latency["max"] / 1000,
        sample=str(data.get("sample", "")),
        busy_before=busy_before,
        probe_ms=probe_ms,
        cpu=cpu,
    )


# --- report ----------------------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _versions(env: dict[str, str]) -> dict[str, str]:
    python = str(_venv_bin("python"))
    code = (
        "import django, gunicorn, rest_framework; "
        "print(django.get_version(), gunicorn.__version__, rest_framework.VERSION)"
    )
    out = _run([python, "-c", code], env=env).stdout.split()
    wrk = _run(["wrk", "-v"], env=env, check=False)
    wrk_version = (wrk.stdout + wrk.stderr).split("[")[0].replace("wrk", "").strip()
    return {
        "python": _run([python, "-V"], env=env).stdout.strip().removeprefix("Python "),
        "django": out[0],
        "gunicorn": out[1],
        "drf": out[2],
        "wrk": wrk_version,
    }


def _revision(env: dict[str, str]) -> str:
    if shutil.which("git") is None:
        return "unknown revision"
    head = _run(["git", "rev-parse", "--short", "HEAD"], env=env, check=False).stdout.strip()
    dirty = _run(["git", "status", "--porcelain"], env=env, check=False).stdout.strip()
    return f"commit {head or '?'}" + (" plus uncommitted changes" if dirty else "")


def _fmt_ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _verdict(passed: bool) -> str:
    return "**met**" if passed else "**not met**"


def render(
    results: list[WrkResult],
    meta: dict[str, Any],
    check: dict[str, Any],
    verify: str,
    profile: dict[str, Any] | None,
) -> str:
    by_name = {result.scenario.name: result for result in results}
    ceiling = by_name["ceiling"].rps
    bare = by_name["bare"].rps if "bare" in by_name else 0.0
    rounds = meta["rounds"]
    log = meta.get("app_log")
    logging_text = (
        f"LOG_LEVEL={meta['log_level']}, JSON lines to a file as a process manager keeps them "
        f"({log['lines']:,} lines, {log['bytes'] / 1e6:,.1f} MB in the run)"
        if log
        else f"LOG_LEVEL={meta['log_level']} (the app's stdout discarded)"
    )
    lines = [
        f"Run {meta['when']} ({meta['revision']}) on {meta['cpu']} ({meta['cores']} cores). "
        f"Python {meta['versions']['python']}, Django {meta['versions']['django']}, "
        f"DRF {meta['versions']['drf']}, gunicorn {meta['versions']['gunicorn']} "
        f"({meta['workers']} sync workers), PostgreSQL {meta['postgres']}, Redis cache, "
        f"wrk {meta['versions']['wrk']} ({meta['threads']} threads, {meta['connections']} "
        f"connections, on the same machine), {logging_text}. {meta['cards']:,} cards plus "
        "one hot card.",
        "",
        f"Each scenario ran {rounds} times for {meta['duration']} s, the scenarios interleaved "
        "round by round; the row shows the median round (by req/s) of the clean rounds (a "
        "round is left out when the machine was more than "
        f"{NOISY_BUSY:.0%} busy just before it, or its probe was {NOISY_PROBE:.2f}x the "
        "fastest) and the range of all rounds. *vs bare*: req/s over the bare Django "
        "project's (the figure of merit: the same Django and gunicorn with nothing of the "
        "app, measured in the same rounds); *vs /healthz*: over the app's own /healthz "
        "through its whole middleware stack. *CPU busy*: the machine's CPU in use during the run; "
        "*app / PG / all CPU*: CPU milliseconds per request used by the gunicorn workers, by "
        "PostgreSQL and by the whole machine (wrk, Redis, kernel included), from /proc. "
        "*probe*: milliseconds of a fixed Python loop just before the run; a higher "
        "figure means the (virtual) machine itself was slower then.",
        "",
        "| scenario | req/s | rounds | p50 ms | p90 ms | p99 ms | errors | vs bare "
        "| vs /healthz | CPU busy | app CPU | PG CPU | all CPU | probe |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for result in results:
        errors = f"**{result.errors}**" if result.errors else "0"
        spread = (
            f"{min(result.round_rps):,.0f}-{max(result.round_rps):,.0f}"
            if result.round_rps
            else "-"
        )
        ratio = result.rps / ceiling
        vs_bare = f"{result.rps / bare:.3f}x" if bare else "-"
        lines.append(
            f"| {result.scenario.title} | {result.rps:,.0f} | {spread} | "
            f"{_fmt_ms(result.p50_ms)} | {_fmt_ms(result.p90_ms)} | {_fmt_ms(result.p99_ms)} | "
            f"{errors} | {vs_bare} | {ratio:.1%} | {result.cpu_busy:.0%} | "
            f"{result.cpu_ms('app'):.2f} | {result.cpu_ms('postgres'):.2f} | "
            f"{result.cpu_ms('machine'):.2f} | {result.probe_ms:.0f} |"
        )
    lines.append("")
    if meta.get("code_changed"):
        changed = meta["code_changed"]
        names = ", ".join(f"`{name}`" for name in changed[:8]) if isinstance(changed, list) else ""
        lines.append(
            "- **The app's source changed while this ran** (someone edited the tree"
            + (f": {names}" + (" ..." if len(changed) > 8 else "") if names else "")
            + "): if those files are on the measured path, the figures mix two versions of "
            "the code; run again."
        )
    for result in results:
        for note in result.notes:
            lines.append(f"- {result.scenario.name}: {note}")
    redeem = by_name["redeem"]
    code = by_name["redeem_code"]
    hot = by_name["redeem_hot"]
    reference, reference_name = (bare, "the bare Django view") if bare else (ceiling, "/healthz")
    redeem_ratio = redeem.rps / reference
    code_ratio = code.rps / reference
    worst = min(redeem_ratio, code_ratio)
    worst_p99 = max(redeem.p99_ms, code.p99_ms, hot.p99_ms)
    floor = meta["connections"] / (MUST_P99_MS / 1000)
    worst_round_p99 = max(
        meta["worst_p99"].get(name, 0.0) for name in ("redeem", "redeem_code", "redeem_hot")
    )
    lines += [
        f"- Must, redeem at >= {MUST_RATIO}x {reference_name}: by id {redeem_ratio:.3f}x, "
        f"by code {code_ratio:.3f}x: {_verdict(worst >= MUST_RATIO)}.",
        f"- Must, p99 under {MUST_P99_MS:.0f} ms: by id {_fmt_ms(redeem.p99_ms)} ms, by code "
        f"{_fmt_ms(code.p99_ms)} ms, hot card {_fmt_ms(hot.p99_ms)} ms (median rounds; worst "
        f"round {_fmt_ms(worst_round_p99)} ms): {_verdict(worst_p99 < MUST_P99_MS)}. With "
        f"{meta['connections']} connections in a closed loop the mean latency is "
        f"{meta['connections']} / throughput, so p99 < {MUST_P99_MS:.0f} ms needs well over "
        f"{floor:,.0f} req/s.",
        f"- Aim, redeem at >= {AIM_RATIO}x {reference_name}: "
        f"{_verdict(worst >= AIM_RATIO)}; redeem by id / cold DRF read = "
        f"{redeem.rps / by_name['read'].rps:.0%}.",
        f"- Ledger after the load: {check['redemptions']:,} redemptions "
        f"(wrk saw {check['min_redeems']:,} succeed; up to {meta['in_flight']:,} more may have "
        f"been in flight when wrk stopped), {check['balance_mismatches']} balance mismatches, "
        f"{check['running_balance_mismatches']} wrong running balances, "
        f"{check['idempotency_records']:,} stored idempotent responses. "
        + ("Problems: " + "; ".join(check["problems"]) if check["problems"] else "All consistent.")
        + f" `verify_ledger --merchant bench`: {verify}",
    ]
    lines += render_pages(meta.get("pages"))
    lines += render_jobs(meta.get("jobs"))
    if profile:
        lines += ["", *render_profile(profile)]
    return "\n".join(lines)


PAGE_BUDGET = 100_000
BULK_BUDGET_S = 10.0  # 10,000 cards
EXPIRY_BUDGET_S = 60.0  # 1,000,000 cards


def render_jobs(jobs: dict[str, Any] | None) -> list[str]:
    """Bulk issuing and the expiry job, as ``tools.bench.jobs`` timed them."""
    if not jobs:
        return []
    lines = []
    bulk = jobs.get("bulk")
    if bulk:
        bulk_verdict = (
            _verdict(bulk["seconds"] < BULK_BUDGET_S)
            if bulk["cards"] >= 10_000
            else f"not checked at {bulk['cards']:,} cards"
        )
        lines.append(
            f"- Bulk issuing {bulk['cards']:,} cards (one count job, run in-process, chunks "
            f"of {bulk['chunk_size']}): {bulk['seconds']:.1f} s ({bulk['cards_per_second']:,} "
            f"cards/s); run again as a redelivered task would, it issued "
            f"{bulk['second_run_issued']} cards in {bulk['second_run_seconds']:.1f} s. Under "
            f"{BULK_BUDGET_S:.0f} s for 10,000: {bulk_verdict}."
        )
    expiry = jobs.get("expiry")
    if expiry:
        ledger_ok = not expiry["problems"]
        expiry_verdict = (
            _verdict(expiry["seconds"] < EXPIRY_BUDGET_S and ledger_ok)
            if expiry["cards"] >= 1_000_000
            else f"not checked at {expiry['cards']:,} cards"
        )
        lines.append(
            f"- The expiry job over {expiry['cards']:,} due cards: {expiry['expired']:,} expired "
            f"in {expiry['seconds']:.1f} s ({expiry['cards_per_second']:,} cards/s) in "
            f"{expiry['chunks']} chunks of {expiry['chunk_size']:,} on {expiry['workers']} "
            f"connections; each chunk is one transaction, so no card stays locked longer than "
            f"its chunk: longest {expiry['longest_chunk_ms']:,.0f} ms, median "
            f"{expiry['p50_chunk_ms']:,.0f} ms, p99 {expiry['p99_chunk_ms']:,.0f} ms; "
            f"{expiry['wal_mb']:,} MB of WAL. Run again: {expiry['second_run_expired']} expired "
            f"in {expiry['second_run_seconds']:.1f} s. Ledger afterwards: "
            + (
                "every card at 0 with one `expire` row for its whole balance."
                if ledger_ok
                else "PROBLEMS: " + "; ".join(expiry["problems"])
            )
            + f" Under {EXPIRY_BUDGET_S:.0f} s for 1,000,000: "
            + expiry_verdict
            + "."
        )
    return lines


def render_pages(pages: dict[str, Any] | None) -> list[str]:
    """The storefront's first visit, as ``tools.bench.pages`` measured it."""
    if not pages:
        return []
    if "skipped" in pages:
        return [f"- Storefront first visit: skipped ({pages['skipped']})."]
    parts = []
    within = True
    for path, page in pages.items():
        blocking = len(page["render_blocking_third_party"])
        within &= page["total_bytes"] < PAGE_BUDGET and not blocking and not page["failed"]
        parts.append(
            f"`{path}` {page['total_bytes']:,} bytes in {page['request_count']} requests "
            f"({len(page['third_party'])} to another origin, {blocking} of them "
            "render-blocking)"
        )
    return [
        "- Storefront first visit (Chromium, cold cache, `Accept-Encoding: gzip, deflate, "
        "br`, product images left out, headers included): "
        + "; ".join(parts)
        + f". Under {PAGE_BUDGET // 1000} KB with no render-blocking third-party request: "
        + _verdict(within)
        + "."
    ]


NOISY_BUSY = 0.2  # share of the CPU busy in the pause before a run
NOISY_PROBE = 1.25  # probe slower than the run's fastest probe by this factor


def is_noisy(run: WrkResult, probe_floor: float) -> bool:
    return run.busy_before > NOISY_BUSY or run.probe_ms > probe_floor * NOISY_PROBE


def combine(runs: list[WrkResult], cards: int, probe_floor: float) -> WrkResult:
    """The median of a scenario's clean rounds (all rounds if none was clean), with the
    spread and the errors of every round. ``cards``: the cards each round has to itself."""
    clean = [run for run in runs if not is_noisy(run, probe_floor)] or runs
    chosen = sorted(clean, key=lambda run: run.rps)[len(clean) // 2]
    chosen.round_rps = [run.rps for run in runs]
    for number, run in enumerate(runs, start=1):
        if run.errors:
            chosen.notes.append(
                f"**round {number} had {run.errors} errors**: statuses {run.statuses}, replays "
                f"{run.replays}, socket errors {run.socket_errors}; first: `{run.sample[:200]}`"
            )
        if is_noisy(run, probe_floor):
            verdict = "kept (no clean round)" if run in clean else "left out of the median"
            chosen.notes.append(
                f"round {number} ({run.rps:,.0f} req/s) ran on a disturbed machine "
                f"({run.busy_before:.0%} busy just before, probe {run.probe_ms:.0f} ms): " + verdict
            )
        if run.scenario.mode in ("redeem", "redeem_code", "read") and run.requests > cards:
            chosen.notes.append(
                f"round {number}: {run.requests:,} requests over its {cards:,} cards, so "
                "cards were reused (never concurrently, but a read may have hit the cache); "
                "raise --cards"
            )
    chosen.bad = sum(run.bad for run in runs)
    chosen.replays = sum(run.replays for run in runs)
    chosen.socket_errors = {
        key: sum(run.socket_errors.get(key, 0) for run in runs) for key in chosen.socket_errors
    }
    return chosen


def render_profile(profile: dict[str, Any]) -> list[str]:
    lines = [
        "In-process cost per request (django.test.Client, same settings and database, "
        "no network hop for HTTP; SQL time is client-side wall time per statement, "
        "BEGIN/COMMIT not included):",
        "",
        "| endpoint | mean ms | p50 ms | p99 ms | SQL statements | SQL ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, timing in profile["timings"].items():
        lines.append(
            f"| {name} | {timing['mean_ms']:.2f} | {timing['p50_ms']:.2f} | "
            f"{timing['p99_ms']:.2f} | {timing['sql_per_request']:.1f} | "
            f"{timing['sql_ms_per_request']:.2f} |"
        )
    lines += ["", "SQL statements of one request (as `CaptureQueriesContext` counts them):", ""]
    for name, queries in profile["queries"].items():
        lines.append(f"- {name}: **{len(queries)}**")
        if name in ("redeem", "redeem_code"):
            lines.extend(f"  - `{_short_sql(query)}`" for query in queries)
    profiles = profile.get("profiles", {})
    if "skipped" in profiles:
        lines += ["", f"Profile skipped: {profiles['skipped']}."]
        return lines
    for name in ("redeem", "redeem_code"):
        data = profiles.get(name)
        if not data:
            continue
        lines += [
            "",
            f"pyinstrument, {data['requests']:,} `{name}` requests, "
            f"{data['wall_ms_per_request']:.2f} ms wall per request "
            "(inclusive time of selected functions; they nest):",
            "",
            "| where | ms / request | share |",
            "| --- | ---: | ---: |",
        ]
        for row in data["inclusive"]:
            lines.append(f"| {row['label']} | {row['ms_per_request']:.2f} | {row['share']:.0%} |")
        lines += ["", "Self time by package:", "", "| package | ms / request | share |"]
        lines.append("| --- | ---: | ---: |")
        for row in data["self_by_package"][:10]:
            lines.append(f"| {row['package']} | {row['ms_per_request']:.2f} | {row['share']:.0%} |")
    return lines


def _short_sql(sql: str) -> str:
    sql = re.sub(r"\s+", " ", sql)
    sql = re.sub(r'SELECT "[^ ]+"\."id", .*? FROM', "SELECT ... FROM", sql)
    sql = re.sub(
        r"\(\"merchant_id\".*?\) VALUES \(.*?\)( RETURNING .*)?$", "(...) VALUES (...)", sql
    )
    sql = re.sub(r"'[^']*'", "'...'", sql)
    return sql[:160].replace("`", "'")


def write_docs(section: str, block: str = "results") -> None:
    """Replace the text between ``<!-- bench:BLOCK:start -->`` and its end marker."""
    start, end = f"<!-- bench:{block}:start -->", f"<!-- bench:{block}:end -->"
    text = DOCS.read_text() if DOCS.exists() else "# Performance\n"
    replacement = f"{start}\n{section}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + replacement + after
    else:
        text = text.rstrip("\n") + f"\n\n## Results ({block})\n\n" + replacement + "\n"
    DOCS.write_text(text)


def export_revision(ref: str, work: Path) -> Path:
    """``git archive`` of ``ref`` into the work directory (read-only for the repository)."""
    sha = _run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], env=dict(os.environ))
    target = work / f"src-{sha.stdout.strip()[:12]}"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    archive = work / "src.tar"
    _run(
        ["git", "archive", "--format=tar", "-o", archive, sha.stdout.strip()], env=dict(os.environ)
    )
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    archive.unlink()
    return target


def source_hashes(app_root: Path) -> dict[str, str]:
    """SHA-256 of each of the app's Python sources (tools/, bench/ and tests left out)."""
    hashes: dict[str, str] = {}
    for path in sorted(app_root.rglob("*.py")):
        relative = path.relative_to(app_root)
        if (
            relative.parts[0] in {"tools", "bench", ".venv", "node_modules"}
            or "tests" in relative.parts
        ):
            continue
        with contextlib.suppress(OSError):
            hashes[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def source_digest(hashes: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name, value in sorted(hashes.items()):
        digest.update(f"{name}\0{value}\n".encode())
    return digest.hexdigest()[:12]


def changed_sources(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )


# --- main ------------------------------------------------------------------------------------


def render_saved(work: Path) -> str:
    """The report of an earlier run, from its results.json (and profile.json)."""
    saved = json.loads((work / "results.json").read_text())
    known = {scenario.name: scenario for scenario in (*SCENARIOS, BARE)}
    results = []
    for row in saved["results"]:
        row = {k: v for k, v in row.items() if k in WrkResult.__dataclass_fields__}
        row["scenario"] = known[row["scenario"]]
        row.setdefault("busy_before", row.pop("load_before", 0.0))
        results.append(WrkResult(**row))
    profile_file = work / "profile.json"
    profile = json.loads(profile_file.read_text()) if profile_file.exists() else None
    verify = saved.get("verify", "not available (skipped).")
    return render(results, saved["meta"], saved["check"], verify, profile)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def run_jobs(
    python: str, env: dict[str, str], app_root: Path, work: Path, bulk: int, expiry: int
) -> dict[str, Any]:
    """Bulk issuing and the expiry job at scale (``tools.bench.jobs``), on an idle
    machine, after the load: their figures and checks."""
    say(f"== jobs: bulk issuing {bulk:,} cards, the expiry job over {expiry:,} due cards ...")
    say(f"   {1 - wait_quiet():.0%} idle")
    _run(
        [
            python,
            "-m",
            "tools.bench.jobs",
            "--out",
            str(work),
            "--bulk-cards",
            str(bulk),
            "--expiry-cards",
            str(expiry),
        ],
        env=env,
        cwd=app_root,
        timeout=3600,
    )
    jobs: dict[str, Any] = json.loads((work / "jobs.json").read_text())
    return jobs


def measure_storefront(
    python: str, env: dict[str, str], app_root: Path, work: Path, port: int, paths: list[str]
) -> dict[str, Any]:
    """A first visit to the storefront's pages in headless Chromium, against the app as
    served (``tools.bench.pages``); a note instead when there is no Chromium here."""
    if not Path("/usr/bin/chromium").exists():
        say("== storefront pages: skipped (no /usr/bin/chromium)")
        return {"skipped": "no Chromium on this machine (apt-get install chromium)"}
    say("== storefront pages, first visit in Chromium ...")
    _run(
        [
            python,
            "-m",
            "tools.bench.pages",
            "--base-url",
            f"http://127.0.0.1:{port}",
            "--out",
            str(work / "pages"),
            "--header",
            "X-Forwarded-Proto: https",
            *paths,
        ],
        env=env,
        cwd=app_root,
        timeout=300,
    )
    results: dict[str, Any] = json.loads((work / "pages" / "pages.json").read_text())
    return results


def _log_summary(path: Path) -> dict[str, Any]:
    """What the app wrote to its log file during the run: lines, bytes, request lines."""
    lines = access = 0
    size = path.stat().st_size if path.exists() else 0
    if path.exists():
        with path.open("rb") as log:
            for line in log:
                lines += 1
                access += b'"event":"request_finished"' in line
    return {"lines": lines, "bytes": size, "access_lines": access}


def _say_result(result: WrkResult) -> None:
    say(
        f"   {result.rps:,.0f} req/s, p50 {_fmt_ms(result.p50_ms)} ms, "
        f"p99 {_fmt_ms(result.p99_ms)} ms, statuses {result.statuses}, "
        f"replays {result.replays}, socket errors {result.socket_errors}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of each scenario, interleaved (median kept)"
    )
    parser.add_argument("--warmup", type=int, default=3, help="seconds per warm-up run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--cards", type=int, default=20_000)
    parser.add_argument("--profile-requests", type=int, default=2_000)
    parser.add_argument(
        "--log-level",
        default="INFO",
        help="LOG_LEVEL of the app (default INFO, as shipped: one JSON line per request, "
        "written to a file)",
    )
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--no-pages", action="store_true", help="skip the storefront's first-visit weight"
    )
    parser.add_argument("--no-jobs", action="store_true", help="skip bulk issuing and expiry")
    parser.add_argument("--bulk-cards", type=int, default=10_000)
    parser.add_argument("--expiry-cards", type=int, default=1_000_000)
    parser.add_argument("--no-bare", action="store_true", help="skip the bare-Django reference")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument(
        "--docs-block",
        default="results",
        help="which marked block of docs/performance.md to refresh (default: results)",
    )
    parser.add_argument(
        "--git-ref",
        help="benchmark this committed revision (git archive into the workdir) instead of "
        "the working tree",
    )
    parser.add_argument(
        "--only", nargs="+", choices=[s.name for s in SCENARIOS], help="a subset of scenarios"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/giftwell_bench"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    )
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "giftwell-bench"
    )
    parser.add_argument(
        "--render-only",
        type=Path,
        metavar="WORKDIR",
        help="re-render the report of an earlier run from WORKDIR/results.json, run nothing",
    )
    args = parser.parse_args(argv)
    # Stopping the benchmark (Ctrl+C, or SIGTERM to this process) stops its wrk and
    # gunicorn too: the exception unwinds through subprocess.run and serving().
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    if args.render_only:
        report = render_saved(args.render_only)
        say(report)
        if not args.no_docs:
            write_docs(report, args.docs_block)
        return 0
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk).")
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    app_root = export_revision(args.git_ref, work) if args.git_ref else ROOT
    env = bench_env(args.database_url, args.redis_url, args.log_level, app_root, work)
    sources = source_hashes(app_root)
    digest = source_digest(sources)
    python = str(_venv_bin("python"))
    scenarios = [s for s in SCENARIOS if not args.only or s.name in args.only]
    if args.only and {s.name for s in SCENARIOS} - set(args.only):
        args.no_docs = True  # a partial run cannot refresh the report

    say(f"== database {reset_database(args.database_url)} recreated")
    say(f"== cache: {reset_cache(args.redis_url)} old keys removed")
    _run([python, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=app_root)
    say(f"== creating {args.cards:,} cards through giftcard_issue ...")
    _run(
        [
            python,
            "-m",
            "tools.bench.django_tasks",
            "prepare",
            "--out",
            work,
            "--cards",
            str(args.cards),
        ],
        env=env,
        cwd=app_root,
    )
    prepared = json.loads((work / "prepare.json").read_text())
    say(f"   done in {prepared['seconds']} s")
    page_paths: list[str] = []
    if not args.no_pages:
        _run([python, "manage.py", "collectstatic", "--noinput", "-v0"], env=env, cwd=app_root)
        shop = _run([python, "-m", "tools.bench.pages", "--prepare"], env=env, cwd=app_root)
        storefront = json.loads(shop.stdout.strip().splitlines()[-1])
        page_paths = [storefront["home"], storefront["product"]]

    meta: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "load_start": os.getloadavg()[0],
        "versions": _versions(env),
        "postgres": _server_version(args.database_url),
        "workers": args.workers,
        "threads": args.threads,
        "connections": args.connections,
        "duration": args.duration,
        "rounds": args.rounds,
        "cards": args.cards,
        "revision": (
            f"git archive of {args.git_ref}, {app_root.name.removeprefix('src-')}"
            if args.git_ref
            else _revision(env)
        )
        + f"; source digest {digest}",
        "log_level": args.log_level,
    }
    run_id = secrets.token_hex(4)
    say("== VACUUM ANALYZE and CHECKPOINT, then waiting for an idle machine ...")
    settle_database(args.database_url)
    say(f"   {1 - wait_quiet():.0%} idle")
    measure = functools.partial(
        run_wrk,
        work=work,
        run_id=run_id,
        connections=args.connections,
        threads=args.threads,
        env=env,
    )
    runs: dict[str, list[WrkResult]] = {scenario.name: [] for scenario in (*scenarios, BARE)}
    warm_ok = 0
    redeem_runs = 0
    port = free_port()
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            serving(env, port, args.workers, work / "gunicorn.log", app_root)
        )
        app_wrk = functools.partial(measure, server_pid=server.pid, port=port)
        # The bare project is served beside the app, and its rounds are interleaved with
        # the app's, so that the ratio of the two is taken on the same machine at the
        # same time (idle sync workers cost nothing).
        bare_wrk = None
        if not args.no_bare:
            bare_env = {k: v for k, v in env.items() if k != "DJANGO_SETTINGS_MODULE"}
            bare_port = free_port()
            bare = stack.enter_context(
                serving(
                    bare_env,
                    bare_port,
                    args.workers,
                    work / "gunicorn-bare.log",
                    app_root,
                    "tools.bench.bare:application",
                )
            )
            bare_wrk = functools.partial(measure, server_pid=bare.pid, port=bare_port)
        for mode in WARMUPS if args.warmup else ():
            warm = app_wrk(Scenario(f"warmup-{mode}", mode, mode), seconds=args.warmup)
            if mode.startswith("redeem"):
                warm_ok += warm.statuses.get("201", 0)
                redeem_runs += 1
            if warm.errors:
                raise SystemExit(f"warm-up {mode} failed: {warm.statuses} {warm.sample}")
        if bare_wrk is not None and args.warmup:
            bare_wrk(Scenario("warmup-bare", "healthz", ""), seconds=args.warmup)
        for number in range(1, args.rounds + 1):
            for scenario in (*scenarios, BARE):
                wrk = app_wrk if scenario is not BARE else bare_wrk
                if wrk is None:
                    continue
                say(f"== round {number}/{args.rounds}, {scenario.name}: {scenario.title} ...")
                # Each round starts at another part of the card list: a read round must
                # not hit the cache a previous round filled.
                offset = (number - 1) * (args.cards // args.rounds)
                result = wrk(scenario, seconds=args.duration, tag=f"-r{number}", offset=offset)
                runs[scenario.name].append(result)
                redeem_runs += scenario.redeems
                _say_result(result)
        if page_paths:
            meta["pages"] = measure_storefront(python, env, app_root, work, port, page_paths)
    meta["app_log"] = _log_summary(work / "gunicorn.out")

    ok_redeems = warm_ok + sum(
        run.statuses.get("201", 0)
        for scenario in scenarios
        if scenario.redeems
        for run in runs[scenario.name]
    )
    meta["worst_p99"] = {
        name: max((r.p99_ms for r in done), default=0.0) for name, done in runs.items()
    }
    probe_floor = min(run.probe_ms for done in runs.values() for run in done)
    per_round = args.cards // args.rounds
    results = [combine(done, per_round, probe_floor) for done in runs.values() if done]

    changed = changed_sources(sources, source_hashes(app_root))
    if changed:
        meta["code_changed"] = changed
        say(f"== WARNING: the app's source changed during the run: {', '.join(changed)}")
    meta["in_flight"] = args.connections * redeem_runs
    say("== checking the ledger ...")
    _run(
        [
            python,
            "-m",
            "tools.bench.django_tasks",
            "check",
            "--out",
            work,
            "--min-redeems",
            str(ok_redeems),
            "--max-redeems",
            str(ok_redeems + meta["in_flight"]),
        ],
        env=env,
        cwd=app_root,
    )
    check = json.loads((work / "check.json").read_text())
    verified = _run(
        [python, "manage.py", "verify_ledger", "--merchant", "bench"],
        env=env,
        check=False,
        cwd=app_root,
    )
    if "Unknown command" in verified.stderr:
        verify = "not available (skipped)."
    else:
        last = (verified.stdout.strip().splitlines() or [verified.stderr.strip()])[-1]
        verify = f'exit {verified.returncode}, "{last.strip()}".'
        if verified.returncode != 0:
            check["problems"].append("verify_ledger failed")

    if not args.no_jobs:
        meta["jobs"] = run_jobs(python, env, app_root, work, args.bulk_cards, args.expiry_cards)
        if not meta["jobs"].get("checks_passed", False):
            check["problems"].append(
                "the jobs' checks failed: " + "; ".join(meta["jobs"]["problems"])
            )

    profile: dict[str, Any] | None = None
    if not args.no_profile:
        say(f"== profiling in-process ({args.profile_requests:,} redemptions) ...")
        _run(
            [
                python,
                "-m",
                "tools.bench.django_tasks",
                "profile",
                "--out",
                work,
                "--requests",
                str(args.profile_requests),
            ],
            env=env,
            timeout=1800,
            cwd=app_root,
        )
        profile = json.loads((work / "profile.json").read_text())

    (work / "results.json").write_text(
        json.dumps(
            {
                "meta": meta,
                "check": check,
                "verify": verify,
                "results": [
                    {**r.__dict__, "scenario": r.scenario.name, "rps": r.rps} for r in results
                ],
            },
            indent=2,
            default=str,
        )
    )
    changed = changed_sources(sources, source_hashes(app_root))
    if changed:
        meta["code_changed"] = changed
    failed = bool(check["problems"]) or any(r.errors for r in results)
    if {s.name for s in SCENARIOS} <= {r.scenario.name for r in results}:
        report = render(results, meta, check, verify, profile)
        say()
        say(report)
        if not args.no_docs:
            write_docs(report, args.docs_block)
            say(f"\n== results written to {DOCS.relative_to(ROOT)} (raw output in {work})")
    else:
        for result in results:
            say(f"{result.scenario.name}: {result.rps:,.0f} req/s p99 {result.p99_ms:.1f} ms")
    if failed:
        say("== FAILED: errors during the load or the ledger does not add up (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
