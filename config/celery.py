"""The Celery application: broker from settings, tasks discovered in every app.

Run a worker with ``celery -A config worker`` and the scheduler with
``celery -A config beat`` (django-celery-beat's database scheduler).
"""

import os

from celery import Celery
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Carries the request id of the request that queued a task into the task's log lines.
app.steps["worker"].add(DjangoStructLogInitStep)
# Every app's tasks are in its ``tasks.py``, named ``<app>.<verb>_<noun>``.
app.autodiscover_tasks()
