"""Every Celery task of the project's apps is named ``<app>.<verb>_<noun>`` and lives in
that app's ``tasks.py``; every beat entry names a registered task by its current name."""

from __future__ import annotations

import re
from pathlib import Path

from celery import Task
from django.apps import apps
from django.conf import settings

from config.celery import app

# Old names kept as thin aliases for one release, so messages queued under them before
# the rename still run: old name -> current name. Remove both sides' alias together.
ALIASES = {
    "core.tasks.clear_expired_sessions": "core.clear_expired_sessions",
    "giftcards.tasks.bulk_issue": "giftcards.issue_bulk_cards",
    "giftcards.jobs.expire_gift_cards": "giftcards.expire_gift_cards",
    "giftcards.jobs.purge_idempotency_records": "merchants.purge_idempotency_records",
    "orders.expire_abandoned": "orders.expire_abandoned_orders",
    "otp.expire_pending": "otp.expire_pending_codes",
}


def project_apps() -> set[str]:
    root = Path(settings.BASE_DIR).resolve()
    return {
        config.name
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(root)
    }


def project_tasks() -> dict[str, Task]:
    app.loader.import_default_modules()
    ours = project_apps()
    return {
        name: task
        for name, task in app.tasks.items()
        if task.__module__.split(".")[0] in ours or name.split(".")[0] in ours
    }


def test_the_project_apps_are_found() -> None:
    assert {"core", "merchants", "giftcards", "orders", "otp", "communications"} <= project_apps()


def test_every_task_is_named_app_verb_noun_in_its_apps_tasks_module() -> None:
    tasks = project_tasks()
    assert len(tasks) > len(ALIASES)
    misnamed = []
    for name, task in tasks.items():
        app_label = task.__module__.split(".")[0]
        if task.__module__ != f"{app_label}.tasks":
            misnamed.append(f"{name} is defined in {task.__module__}")
        if name in ALIASES:
            continue
        if not re.fullmatch(rf"{re.escape(app_label)}\.[a-z]+_[a-z_]+", name):
            misnamed.append(f"{name} (in {task.__module__})")
    assert misnamed == []


def test_every_alias_stands_for_a_registered_task_of_the_same_app() -> None:
    tasks = project_tasks()
    for old, new in ALIASES.items():
        assert old in tasks, old
        assert new in tasks, new
        assert tasks[old].__module__ == tasks[new].__module__ == f"{new.split('.')[0]}.tasks"


def test_every_beat_entry_names_a_registered_task_by_its_current_name() -> None:
    tasks = project_tasks()
    for entry, schedule in settings.CELERY_BEAT_SCHEDULE.items():
        assert schedule["task"] in tasks, entry
        assert schedule["task"] not in ALIASES, entry
