"""The application under gunicorn in a subprocess, for tests that need real processes: a
database of its own, workers that can be killed, a database that goes away.

Ports come from ``TEST_SERVER_PORTS`` ("first-last") when set, else from the system.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    ports = os.environ.get("TEST_SERVER_PORTS", "")
    candidates = range(int(ports.split("-")[0]), int(ports.split("-")[1]) + 1) if ports else [0]
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise RuntimeError(f"no free port in {ports}")


def app_env(**variables: str) -> dict[str, str]:
    """The environment of a subprocess running the app with the test settings: nothing
    of this process's database, cache or settings choice leaks in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_"))
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings.test", **variables)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``manage.py`` with ``env``; its stdout, or a failure showing its output."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)}: {result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        chunks: Iterable[bytes] | None = None,
        timeout: float = 30,
    ) -> Answer:
        """One request on a fresh connection. ``body`` is sent as JSON; ``chunks`` are
        sent with ``Transfer-Encoding: chunked`` and no ``Content-Length``."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            sent = dict(headers or {})
            if chunks is not None:
                sent.setdefault("Content-Type", "application/json")
                sent["Transfer-Encoding"] = "chunked"
                connection.request(method, path, body=chunks, headers=sent, encode_chunked=True)
            elif body is not None:
                sent.setdefault("Content-Type", "application/json")
                connection.request(method, path, body=json.dumps(body).encode(), headers=sent)
            else:
                connection.request(method, path, headers=sent)
            response = connection.getresponse()
            return Answer(
                response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            )
        finally:
            connection.close()

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_gunicorn(
    env: dict[str, str], *, log: Path, workers: int = 2, threads: int = 8
) -> Iterator[Server]:
    """``gunicorn config.wsgi`` on 127.0.0.1, answering /healthz, stopped on exit."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--worker-class=gthread",
        "--timeout=30",
        "--graceful-timeout=5",
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    server = Server(process, port, log)
    try:
        _wait_until_answering(server, workers)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_answering(server: Server, workers: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{server.output()[-3000:]}")
        try:
            if (
                server.request("GET", "/healthz", timeout=2).status == 200
                and len(server.worker_pids()) == workers
            ):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not answer within {timeout:.0f} s:\n{server.output()}")
