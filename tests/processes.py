"""Other processes of the platform, for tests that need more than one: each is a separate
Python process with the test settings (its own local-memory cache, like a web or worker
process without Redis) on the test database of the calling test, which must be
PostgreSQL and transactional so the processes see each other's commits.

A process runs ``python -m tests.processes`` and takes one command a line on its standard
input; it answers each with one ``RESULT <json>`` line on its standard output:

* ``send <channel>``: send a test message now (its task runs in this process), answer its
  log row;
* ``queue <channel>``: send a test message whose task goes to the broker (in memory, in
  this process: lost when the process ends), answer its log row;
* ``deliver <log id>``: run the delivery task for a message here, as a worker does;
* ``switch <setting> <JSON value>``: change a communication setting through the service;
* ``smtp <port>``: send this process's email over SMTP to 127.0.0.1:<port>.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
RESULT = "RESULT "


def database_url(settings_dict: dict[str, Any]) -> str:
    """A ``DATABASE_URL`` for the database of ``settings_dict`` (a connection's)."""
    user = quote(str(settings_dict.get("USER") or ""), safe="")
    password = quote(str(settings_dict.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{settings_dict['NAME']}"


class PlatformProcess:
    """One running process that takes commands (see the module docstring)."""

    def __init__(self, settings_dict: dict[str, Any]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        env.pop("REDIS_URL", None)
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.test",
            DATABASE_URL=database_url(settings_dict),
            PYTHONUNBUFFERED="1",
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.processes"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._errors: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_errors, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(RESULT):
                self._lines.put(line[len(RESULT) :])
        self._lines.put("")  # the process ended

    def _read_errors(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._errors = [*self._errors[-40:], line]

    def tell(self, command: str) -> None:
        """Send a command without waiting for its answer."""
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def answer(self, *, timeout: float = 30) -> dict[str, Any]:
        line = self._lines.get(timeout=timeout)
        if not line:
            code = self.process.wait()
            raise RuntimeError(f"the process ended (exit code {code}):\n{''.join(self._errors)}")
        result: dict[str, Any] = json.loads(line)
        return result

    def ask(self, command: str, *, timeout: float = 30) -> dict[str, Any]:
        self.tell(command)
        return self.answer(timeout=timeout)

    def stop(self) -> None:
        """End the process the orderly way (its broker, in memory, goes with it)."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=30)

    def kill(self) -> None:
        """End it as the OOM killer or a deploy's SIGKILL does: nothing runs after."""
        self.process.kill()
        self.process.wait(timeout=30)


def _serve() -> None:  # pragma: no cover - runs in the child process
    import django

    django.setup()

    from django.conf import settings

    from communications.models import CommunicationLog, Event
    from communications.services import Recipient, send, settings_update
    from communications.tasks import deliver_message
    from config.celery import app

    def row(log_id: int) -> dict[str, Any]:
        log = CommunicationLog.objects.get(pk=log_id)
        return {"id": log.pk, "status": log.status, "reason": log.reason}

    def send_test(channel: str) -> int:
        [log] = send(
            Event.TEST_MESSAGE,
            Recipient(email="ana@example.com", phone="+447700900123"),
            {"channel": channel, "sent_at": "now"},
            channels=[channel],
        )
        return log.pk

    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        result: dict[str, Any]
        if command == "send":
            app.conf.task_always_eager = True
            result = row(send_test(argument))
        elif command == "queue":
            app.conf.task_always_eager = False
            result = row(send_test(argument))
        elif command == "deliver":
            outcome = deliver_message.apply(args=(int(argument),)).result
            result = {**row(int(argument)), "outcome": outcome}
        elif command == "switch":
            name, _, value = argument.partition(" ")
            settings_update(actor=None, **{name: json.loads(value)})
            result = {"switched": name}
        elif command == "smtp":
            settings.COMMUNICATIONS_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
            settings.EMAIL_HOST = "127.0.0.1"
            settings.EMAIL_PORT = int(argument)
            settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
            settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
            settings.EMAIL_TIMEOUT = 30
            result = {"smtp": int(argument)}
        else:
            result = {"error": f"unknown command {command!r}"}
        sys.stdout.write(RESULT + json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":  # pragma: no cover
    _serve()
