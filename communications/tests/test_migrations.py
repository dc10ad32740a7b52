"""The move to limits per merchant under a ceiling: a settings row still on the old
platform-wide defaults gets the new ones; values an admin changed are kept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("communications", "0009_merchant_invitation_event")]
AFTER = [("communications", "0011_move_old_default_limits")]


@pytest.fixture
def migrator() -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    yield executor
    # Leave the schema as every other test expects it.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _migrate(executor: MigrationExecutor, targets: list[tuple[str, str]]):
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_old_defaults_move_and_changed_values_stay(migrator: MigrationExecutor) -> None:
    old_apps = migrator.loader.project_state(BEFORE).apps
    old_apps.get_model("communications", "CommunicationSettings").objects.update_or_create(
        pk=1,
        # email and push as an admin set them; SMS still on the old default
        defaults={
            "email_rate_limit": 5_000,
            "sms_rate_limit": 50,
            "push_rate_limit": 200,
            "per_recipient_hourly_limit": 7,
        },
    )

    new_apps = _migrate(migrator, AFTER)

    row = new_apps.get_model("communications", "CommunicationSettings").objects.get(pk=1)
    # The old platform-wide limit is the ceiling: kept when changed, else the new default.
    assert (row.email_hourly_ceiling, row.sms_hourly_ceiling) == (5_000, 3_600)
    assert row.push_hourly_ceiling == 50_000
    assert (row.email_merchant_hourly_limit, row.sms_merchant_hourly_limit) == (1_000, 600)
    assert (row.email_platform_hourly_limit, row.otp_api_key_hourly_limit) == (2_000, 600)
    assert row.per_recipient_hourly_limit == 7


@pytest.mark.django_db(transaction=True)
def test_settings_the_new_rules_refuse_move_to_what_the_code_did_with_them() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("communications", "0011_move_old_default_limits")])
    try:
        old_apps = executor.loader.project_state(
            [("communications", "0011_move_old_default_limits")]
        ).apps
        old_apps.get_model("communications", "CommunicationSettings").objects.update_or_create(
            pk=1,
            defaults={
                "otp_expiry_minutes": 0,
                "otp_max_attempts": 0,
                "email_fallback": "email",
                "sms_fallback": "sms",
                "push_fallback": "sms",
                "otp_length": 8,
            },
        )
        new_apps = _migrate(executor, [("communications", "0013_settings_rules")])
        row = new_apps.get_model("communications", "CommunicationSettings").objects.get(pk=1)
        assert (row.otp_expiry_minutes, row.otp_max_attempts, row.otp_length) == (1, 1, 8)
        assert (row.email_fallback, row.sms_fallback, row.push_fallback) == ("", "", "sms")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_messages_queued_before_the_sweep_existed_are_swept_too() -> None:
    before = [("communications", "0013_settings_rules")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        log_model = executor.loader.project_state(before).apps.get_model(
            "communications", "CommunicationLog"
        )
        common = {"channel": "email", "requested_channel": "email", "event": "test_message"}
        stuck = log_model.objects.create(status="queued", **common)
        deferred = log_model.objects.create(
            status="queued", deferred_until=stuck.created_at, **common
        )
        sent = log_model.objects.create(status="sent", **common)

        new_apps = _migrate(executor, [("communications", "0015_delivery_sweep_backfill")])

        rows = {
            row.pk: (row.next_attempt_at, row.dispatched_at)
            for row in new_apps.get_model("communications", "CommunicationLog").objects.all()
        }
        assert rows == {
            stuck.pk: (stuck.created_at, stuck.created_at),
            deferred.pk: (None, None),
            sent.pk: (None, None),
        }
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_history_starts_with_each_version_published_and_any_rollback() -> None:
    executor = MigrationExecutor(connection)
    before = [("communications", "0017_template_activation")]
    executor.migrate(before)
    executor.loader.build_graph()
    try:
        old_apps = executor.loader.project_state(before).apps
        template_model = old_apps.get_model("communications", "CommunicationTemplate")
        version_model = old_apps.get_model("communications", "TemplateVersion")
        old_apps.get_model("communications", "TemplateActivation").objects.all().delete()
        template, _ = template_model.objects.get_or_create(event="password_reset", channel="email")
        template.active_version = None
        template.save()
        version_model.objects.filter(template=template).delete()
        first = version_model.objects.create(template=template, number=1, body_text="v1")
        version_model.objects.create(template=template, number=2, body_text="v2")
        version_model.objects.create(template=template, number=3, body_text="v3")
        template.active_version = first  # rolled back to v1 since
        template.save()

        new_apps = _migrate(executor, [("communications", "0018_template_activation_history")])

        history = new_apps.get_model("communications", "TemplateActivation").objects.filter(
            template_id=template.pk
        )
        rows = list(
            history.order_by("created_at", "id").values_list(
                "kind", "version__number", "previous__number"
            )
        )
        assert rows == [
            ("published", 1, None),
            ("published", 2, 1),
            ("published", 3, 2),
            ("rolled_back", 1, 3),
        ]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
