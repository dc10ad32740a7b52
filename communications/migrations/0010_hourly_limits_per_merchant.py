"""Hourly limits per merchant and for the platform's own messages under a ceiling per
channel; deferred messages; a limit per API key for one-time codes.

The old platform-wide limit of each channel is what the ceiling is now, so the field is
renamed and keeps its value (the next migration moves the old defaults to the new ones).
"""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("communications", "0009_merchant_invitation_event")]

    operations = [
        migrations.RenameField(
            model_name='communicationsettings',
            old_name='email_rate_limit',
            new_name='email_hourly_ceiling',
        ),
        migrations.RenameField(
            model_name='communicationsettings',
            old_name='sms_rate_limit',
            new_name='sms_hourly_ceiling',
        ),
        migrations.RenameField(
            model_name='communicationsettings',
            old_name='push_rate_limit',
            new_name='push_hourly_ceiling',
        ),
        migrations.AddField(
            model_name='communicationlog',
            name='deferred_until',
            field=models.DateTimeField(blank=True, editable=False, help_text='A queued message held back by an hourly volume limit goes out after this.', null=True),
        ),
        migrations.AlterField(
            model_name='communicationsettings',
            name='email_hourly_ceiling',
            field=models.PositiveIntegerField(default=10000, help_text="Emails an hour from the whole platform: every merchant and the platform's own emails together. Set it to your email provider's hourly quota. An email over it is not lost: it waits, queued, and goes out in the next hour with room.", validators=[django.core.validators.MinValueValidator(1, 'Must be at least 1: with 0 nothing would ever be sent.')], verbose_name='email: whole platform, per hour'),
        ),
        migrations.AddField(
            model_name='communicationsettings',
            name='email_merchant_hourly_limit',
            field=models.PositiveIntegerField(default=1000, help_text="Emails an hour for each merchant (its gift cards, receipts and its customers' one-time codes). A merchant over it has its emails wait for the next hour; other merchants' emails are not held up.", validators=[django.core.validators.MinValueValidator(1, 'Must be at least 1: with 0 nothing would ever be sent.')], verbose_name='email: per merchant, per hour'),
        ),
        migrations.AddField(
            model_name='communicationsettings',
            name='email_platform_hourly_limit',
            field=models.PositiveIntegerField(default=2000, help_text='Emails an hour that belong to no merchant: account emails (sign-up, password reset), one-time codes for the platform itself and admin test messages. Over it, they wait for the next hour.', validators=[django.core.validators.MinValueValidator(1, 'Must be at least 1: with 0 nothing would ever be sent.')], verbose_name="email: platform's own, per hour"),
        ),
        migrations.AddField(
            model_name='communicationsettings',
            name='otp_api_key_hourly_limit',
            field=models.PositiveIntegerField(default=600, help_text="One-time codes an hour asked for with any one API key. API requests count per key and per recipient, never per IP address: a merchant's server sends all its requests from one address. A request over it is refused.", validators=[django.core.validators.MinValueValidator(1, 'Must be at least 1: with 0 nothing would ever be sent.')], verbose_name='one-time codes per API key, per hour'),
        ),
        migrations.AlterField(
            model_name='communicationsettings',
            name='push_hourly_ceiling',
            field=models.PositiveIntegerField(default=50000, help_text="Push notifications an hour from the whole platform, all merchants and the platform's own together. A notification over it waits, queued, for the next hour with room.", validators=[django.core.validators.MinValueValidator(1, 'Must be at least 1: with 0 nothing would ever be sent.')], verbose_name='push: whole platform, per hour'),
        ),
        migrations.AddField(
            model_name='communicationsettings',
            name='push_merchant_hourly_limit',
            field=models.PositiveIntegerField(default=5000, help_text="Push notifications an hour for each merchant. A merchant over it has its notifications wait for the next hour; other merchants' are not held up.", validators=[django.core.validators.MinValueValidator(1, 'Must be at least 1: with 0 nothing would ever be sent.')], verbose_name='push: per merchant, per hour'),
        ),
        migrations.AddField(
            model_name='communicationsettings',
            name='push_platform_hourly_limit',
            field=models.PositiveIntegerField(default=5000, help_text='Push notifications an hour that belong to no merchant. Over it, they wait for the next hour.', validators=[django.core.validators.MinValueValidator(1, 'Must be at least 1: with 0 nothing would ever be sent.')], verbose_name="push: platform's own, per hour"),
        ),
        migrations.AlterField(
            model_name='communicationsettings',
            name='sms_hourly_ceiling',
            field=models.PositiveIntegerField(default=3600, help_text="Text messages an hour from the whole platform, all merchants and the platform's own together. Set it to your SMS provider's throughput (3,600 is one message a second, what one sending number allows). A message over it waits, queued, for the next hour with room.", validators=[django.core.validators.MinValueValidator(1, 'Must be at least 1: with 0 nothing would ever be sent.')], verbose_name='SMS: whole platform, per hour'),
        ),
        migrations.AddField(
            model_name='communicationsettings',
            name='sms_merchant_hourly_limit',
            field=models.PositiveIntegerField(default=600, help_text="Text messages an hour for each merchant. A merchant over it has its messages wait for the next hour; other merchants' messages are not held up.", validators=[django.core.validators.MinValueValidator(1, 'Must be at least 1: with 0 nothing would ever be sent.')], verbose_name='SMS: per merchant, per hour'),
        ),
        migrations.AddField(
            model_name='communicationsettings',
            name='sms_platform_hourly_limit',
            field=models.PositiveIntegerField(default=600, help_text='Text messages an hour that belong to no merchant (one-time codes for the platform itself, admin test messages). Over it, they wait for the next hour.', validators=[django.core.validators.MinValueValidator(1, 'Must be at least 1: with 0 nothing would ever be sent.')], verbose_name="SMS: platform's own, per hour"),
        ),
        migrations.AlterField(
            model_name='communicationsettings',
            name='otp_rate_limit',
            field=models.PositiveIntegerField(default=10, help_text='One-time codes an hour to any one recipient (counted per merchant). Codes asked for in the browser also count per signed-in person and per IP address, each with this limit. A request over it is refused.', validators=[django.core.validators.MinValueValidator(1, 'Must be at least 1: with 0 nothing would ever be sent.')], verbose_name='one-time codes per recipient, per hour'),
        ),
        migrations.AlterField(
            model_name='communicationsettings',
            name='per_recipient_hourly_limit',
            field=models.PositiveIntegerField(default=10, help_text='Messages an hour to any one address or number, per channel, whoever sends them. This is the abuse limit: a message over it is refused (rate limited) and never sent later.', validators=[django.core.validators.MinValueValidator(1, 'Must be at least 1: with 0 nothing would ever be sent.')], verbose_name='messages per recipient, per hour'),
        ),
        migrations.AddIndex(
            model_name='communicationlog',
            index=models.Index(condition=models.Q(('deferred_until__isnull', False)), fields=['deferred_until'], name='commlog_deferred'),
        ),
        migrations.AlterConstraint(
            model_name='communicationsettings',
            name='communication_settings_otp_length',
            constraint=models.CheckConstraint(condition=models.Q(('otp_length__gte', 4), ('otp_length__lte', 10)), name='communication_settings_otp_length', violation_error_message='A one-time code has 4 to 10 digits.'),
        ),
    ]
