"""``manage.py run_local [ADDR:PORT]``: the product on one machine, as it runs in production.

Starts the web server (Django's development server), a Celery worker and Celery beat,
which share a queue in a folder (``CELERY_BROKER_URL=filesystem://``) unless a broker is
configured, so background work behaves as deployed: bulk issuing shows its progress,
scheduled gift cards go out within a minute of their time, abandoned checkouts are
closed. Links made without a request (emails sent by the worker) use ``SITE_URL``, set
to the address served here unless it is set already. Ctrl+C stops all three.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

ROOT = Path(__file__).resolve().parents[3]


def local_environment(addrport: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the three processes share."""
    env = dict(os.environ if base is None else base)
    env.setdefault("SITE_URL", f"http://{addrport}")
    if not env.get("CELERY_BROKER_URL") and not env.get("REDIS_URL"):
        env["CELERY_BROKER_URL"] = "filesystem://"
    env["CELERY_TASK_ALWAYS_EAGER"] = "false"
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    return env


def processes(addrport: str, *, loglevel: str = "WARNING") -> list[tuple[str, list[str]]]:
    celery = [sys.executable, "-m", "celery", "-A", "config"]
    return [
        ("web", [sys.executable, "manage.py", "runserver", addrport]),
        # One process, one task at a time: enough for a laptop, and kind to SQLite.
        ("worker", [*celery, "worker", "--pool", "solo", "--loglevel", loglevel]),
        ("beat", [*celery, "beat", "--loglevel", loglevel]),
    ]


class Command(BaseCommand):
    help = "Serve the product with its worker and scheduler on this machine (make run)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "run_local is the zero-setup way to run the product; in production run "
                "gunicorn, a Celery worker and beat as the README shows."
            )
        addrport = options["addrport"]
        env = local_environment(addrport)
        running: list[tuple[str, subprocess.Popen[bytes]]] = []
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        try:
            for name, command in processes(addrport):
                running.append((name, subprocess.Popen(command, cwd=ROOT, env=env)))  # noqa: S603
            self.stdout.write(
                f"Web server, worker and scheduler running; links point at {env['SITE_URL']}."
            )
            while not stopping:
                for name, process in running:
                    if process.poll() is not None:
                        self.stderr.write(f"The {name} process stopped; stopping the others.")
                        stopping = True
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for _, process in running:
                if process.poll() is None:
                    process.terminate()
            for _, process in running:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
