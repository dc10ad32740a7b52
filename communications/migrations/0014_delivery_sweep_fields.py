"""The times the delivery sweep reads: when a message's next attempt is due, and when a
task for it last went to the broker."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("communications", "0013_settings_rules")]

    operations = [
        migrations.AddField(
            model_name='communicationlog',
            name='dispatched_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='communicationlog',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name='communicationlog',
            index=models.Index(condition=models.Q(('deferred_until__isnull', True), ('status', 'queued')), fields=['next_attempt_at'], name='commlog_in_flight'),
        ),
    ]
