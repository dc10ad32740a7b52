"""Move a settings row the new rules (0013) would refuse to what the code did with it: a
code expiry or attempt count of 0 worked as 1, and a channel falling back to itself as
no fallback."""

from django.db import migrations

CHANNELS = ("email", "sms", "push")


def forwards(apps, schema_editor):
    settings_model = apps.get_model("communications", "CommunicationSettings")
    settings_model.objects.filter(otp_expiry_minutes__lt=1).update(otp_expiry_minutes=1)
    settings_model.objects.filter(otp_max_attempts__lt=1).update(otp_max_attempts=1)
    for channel in CHANNELS:
        settings_model.objects.filter(**{f"{channel}_fallback": channel}).update(
            **{f"{channel}_fallback": ""}
        )


class Migration(migrations.Migration):
    dependencies = [("communications", "0011_move_old_default_limits")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
