"""The events a message can be are registered by the apps that own them
(communications.events): the fields read their choices from that registry through a
callable, so an app adding an event needs no migration here. Nothing changes in the
database; stored rows keep their values."""

import communications.events
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('communications', '0019_templateversion_is_draft'),
    ]

    operations = [
        migrations.AlterField(
            model_name='communicationlog',
            name='event',
            field=models.CharField(choices=communications.events.event_choices, max_length=40),
        ),
        migrations.AlterField(
            model_name='communicationtemplate',
            name='event',
            field=models.CharField(choices=communications.events.event_choices, max_length=40),
        ),
    ]
