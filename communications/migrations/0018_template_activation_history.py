"""The activation history starts with what is known: until drafts existed every saved
version became the active text when it was saved, so each version is recorded as
published at its save, by whoever saved it; a template whose active text is not its
newest version was rolled back since, at its last change (by someone not recorded).
``send`` falls back to the last good version by this history."""

from django.db import migrations


def forwards(apps, schema_editor):
    template_model = apps.get_model("communications", "CommunicationTemplate")
    version_model = apps.get_model("communications", "TemplateVersion")
    activation_model = apps.get_model("communications", "TemplateActivation")
    for template in template_model.objects.all():
        if activation_model.objects.filter(template=template).exists():
            continue
        previous = None
        for version in version_model.objects.filter(template=template).order_by("number"):
            activation_model.objects.create(
                template=template,
                version=version,
                previous=previous,
                kind="published",
                actor_id=version.created_by_id,
                created_at=version.created_at,
            )
            previous = version
        if template.active_version_id and previous and previous.pk != template.active_version_id:
            activation_model.objects.create(
                template=template,
                version_id=template.active_version_id,
                previous=previous,
                kind="rolled_back",
                created_at=max(template.updated_at, previous.created_at),
            )


class Migration(migrations.Migration):
    dependencies = [("communications", "0017_template_activation")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
