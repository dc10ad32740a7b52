"""Messages already queued get the times the delivery sweep reads (their creation: an
attempt that was due then), so one stuck before this release is recovered too."""

from django.db import migrations
from django.db.models import F


def forwards(apps, schema_editor):
    log_model = apps.get_model("communications", "CommunicationLog")
    log_model.objects.filter(
        status="queued", deferred_until__isnull=True, next_attempt_at__isnull=True
    ).update(next_attempt_at=F("created_at"), dispatched_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("communications", "0014_delivery_sweep_fields")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
