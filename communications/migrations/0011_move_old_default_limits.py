"""Move a settings row still on the old platform-wide defaults (100 emails, 50 text
messages, 200 push notifications an hour for everyone together) to the new ceilings. A
ceiling an admin changed is kept."""

from django.db import migrations

OLD_DEFAULTS = {"email": 100, "sms": 50, "push": 200}
NEW_CEILINGS = {"email": 10_000, "sms": 3_600, "push": 50_000}


def forwards(apps, schema_editor):
    settings_model = apps.get_model("communications", "CommunicationSettings")
    for row in settings_model.objects.all():
        for channel, old in OLD_DEFAULTS.items():
            ceiling_field = f"{channel}_hourly_ceiling"
            if getattr(row, ceiling_field) == old:
                setattr(row, ceiling_field, NEW_CEILINGS[channel])
        row.save()


def backwards(apps, schema_editor):
    settings_model = apps.get_model("communications", "CommunicationSettings")
    for row in settings_model.objects.all():
        for channel, old in OLD_DEFAULTS.items():
            ceiling_field = f"{channel}_hourly_ceiling"
            if getattr(row, ceiling_field) == NEW_CEILINGS[channel]:
                setattr(row, ceiling_field, old)
        row.save()


class Migration(migrations.Migration):
    dependencies = [("communications", "0010_hourly_limits_per_merchant")]

    operations = [migrations.RunPython(forwards, backwards)]
