"""One-time code settings that cannot work, and a channel falling back to itself, are
refused with a message beside the field, and by the database."""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("communications", "0012_settings_that_work")]

    operations = [
        migrations.AlterField(
            model_name='communicationsettings',
            name='otp_expiry_minutes',
            field=models.PositiveIntegerField(default=10, help_text='Minutes a one-time code can be used for, at least 1.', validators=[django.core.validators.MinValueValidator(1, 'Must be at least 1 minute: a code that expires at once cannot be used.')]),
        ),
        migrations.AlterField(
            model_name='communicationsettings',
            name='otp_length',
            field=models.PositiveSmallIntegerField(default=6, help_text='Digits in a one-time code, from 4 to 10.', validators=[django.core.validators.MinValueValidator(4, 'A one-time code has 4 to 10 digits.'), django.core.validators.MaxValueValidator(10, 'A one-time code has 4 to 10 digits.')]),
        ),
        migrations.AlterField(
            model_name='communicationsettings',
            name='otp_max_attempts',
            field=models.PositiveSmallIntegerField(default=5, help_text='Wrong tries a one-time code allows before it is used up, at least 1.', validators=[django.core.validators.MinValueValidator(1, 'Must be at least 1: with 0 no code could ever be checked.')]),
        ),
        migrations.AddConstraint(
            model_name='communicationsettings',
            constraint=models.CheckConstraint(condition=models.Q(('otp_expiry_minutes__gte', 1)), name='communication_settings_otp_expiry', violation_error_message='Must be at least 1 minute: a code that expires at once cannot be used.'),
        ),
        migrations.AddConstraint(
            model_name='communicationsettings',
            constraint=models.CheckConstraint(condition=models.Q(('otp_max_attempts__gte', 1)), name='communication_settings_otp_attempts', violation_error_message='Must be at least 1: with 0 no code could ever be checked.'),
        ),
        migrations.AddConstraint(
            model_name='communicationsettings',
            constraint=models.CheckConstraint(condition=models.Q(('email_fallback', 'email'), _negated=True), name='communication_settings_email_fallback', violation_error_message='Email cannot fall back to itself: choose another channel, or none to suppress.'),
        ),
        migrations.AddConstraint(
            model_name='communicationsettings',
            constraint=models.CheckConstraint(condition=models.Q(('sms_fallback', 'sms'), _negated=True), name='communication_settings_sms_fallback', violation_error_message='SMS cannot fall back to itself: choose another channel, or none to suppress.'),
        ),
        migrations.AddConstraint(
            model_name='communicationsettings',
            constraint=models.CheckConstraint(condition=models.Q(('push_fallback', 'push'), _negated=True), name='communication_settings_push_fallback', violation_error_message='Push cannot fall back to itself: choose another channel, or none to suppress.'),
        ),
    ]
