"""The template editor in the admin (CM-4): preview, refusals, new versions, rollback."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from communications.models import (
    CommunicationLog,
    CommunicationTemplate,
    Event,
    MessageStatus,
    TemplateVersion,
)
from communications.selectors import template_for
from communications.services import Recipient, send
from communications.template_services import (
    TemplateRefused,
    template_version_activate,
    template_version_create,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

RESET_CONTEXT = {"user_email": "ana@example.com", "password_reset_url": "https://x.example/r/1/"}


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(email="root@example.com", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def reset_email() -> CommunicationTemplate:
    template = template_for(event=Event.PASSWORD_RESET, channel="email")
    assert template is not None
    assert template.active_version is not None
    return template


def editor_url(template: CommunicationTemplate) -> str:
    return reverse("admin:communications_communicationtemplate_change", args=[template.pk])


def form_data(template: CommunicationTemplate, **changes: str) -> dict[str, str]:
    active = template.active_version
    assert active is not None
    return {
        "subject": active.subject,
        "body_text": active.body_text,
        "body_html": active.body_html,
        "note": "",
        **changes,
    }


def snapshot(template: CommunicationTemplate) -> tuple[int, int | None]:
    template.refresh_from_db()
    return template.versions.count(), template.active_version_id


def test_the_editor_shows_the_active_text_its_preview_and_the_versions(
    admin_client: Client, reset_email: CommunicationTemplate
) -> None:
    page = admin_client.get(editor_url(reset_email))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Reset your {{ site_name }} password" in html  # the source, to edit
    assert "Reset your Giftwell password" in html  # the preview, rendered
    assert "password_reset_url" in html  # the declared variables are listed
    assert "<code>striptags</code>" in html  # and the filters a template may use
    assert "v1" in html
    assert "(active)" in html
    frame = re.search(r'<iframe class="rendered-html" src="([^"]+)"', html)
    assert frame, "the HTML part is previewed in a frame"
    framed = admin_client.get(frame.group(1))
    assert framed.status_code == 200
    assert "sandbox" in framed["Content-Security-Policy"]
    assert "script-src" not in framed["Content-Security-Policy"]  # default-src 'none'
    assert framed["X-Frame-Options"] == "SAMEORIGIN"
    assert "https://gifts.example.com/accounts/password/reset/key/x/" in framed.content.decode()


def test_the_live_preview_renders_the_typed_text_and_saves_nothing(
    admin_client: Client, reset_email: CommunicationTemplate
) -> None:
    before = snapshot(reset_email)
    url = reverse("admin:communications_communicationtemplate_preview", args=[reset_email.pk])
    response = admin_client.post(
        url, form_data(reset_email, subject="New: {{ user_email }} on {{ site_name }}")
    )
    assert response.status_code == 200
    assert "New: ana@example.com on" in response.content.decode()
    assert snapshot(reset_email) == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"body_text": "Hello {{ favourite_colour }}"}, "unknown variable(s) favourite_colour"),
        ({"body_text": "{% include 'secrets.txt' %}"}, "tag is not allowed"),
        ({"body_html": "{% extends 'base.html' %}"}, "tag is not allowed"),
        ({"body_text": "{{ user_email.__class__.__mro__ }}"}, "could not be rendered"),
        ({"body_text": "{% for %}"}, "syntax error"),
        ({"body_html": "<p>{{ user_email|safe }}</p>"}, "the &#x27;safe&#x27; filter is not"),
        (
            {"body_html": "{% autoescape false %}{{ user_email }}{% endautoescape %}"},
            "the &#x27;autoescape&#x27; tag is not allowed",
        ),
        ({"body_html": "{{ Markup(user_email) }}"}, "unknown variable(s) Markup"),
        ({"body_text": "{{ lipsum(5) }}"}, "unknown variable(s) lipsum"),
        ({"body_text": "{{ user_email|truncate(1) }}"}, "could not be rendered"),
        ({"body_text": "{{ 1 // 0 }}"}, "could not be rendered"),
        ({"subject": ""}, "This field is required"),
        # As measured in the editor: each was a 500, a 100 MB page, or failed at send.
        ({"body_text": "{{ 1/0 }}"}, "could not be rendered: division by zero"),
        (
            {"body_text": "{% for i in range(100000000) %}x{% endfor %}"},
            "unknown variable(s) range",
        ),
        ({"body_html": "{{ 'a' * 100000000 }}"}, "repeats a text or a list past 262,144"),
        (
            {"body_text": "{{ password_reset_url[3] }}"},
            "str object has no element 3 (when password_reset_url is empty)",
        ),
        ({"body_text": "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"}, "nests too deeply"),
        ({"body_text": "{{ " + "9" * 5000 + " }}"}, "holds a number too long"),
        (
            {"subject": "{% macro m(s) %}{{ m(s ~ s) }}{% endmacro %}{{ m(user_email) }}"},
            "longer than",
        ),
        ({"subject": "{{ user_email * 100 }}"}, "longer than 998 characters"),
        ({"body_text": "x" * 100_001}, "at most 100000 characters"),
    ],
)
def test_a_template_that_does_not_render_is_refused_and_nothing_changes(
    admin_client: Client, reset_email: CommunicationTemplate, changes: dict[str, str], message: str
) -> None:
    before = snapshot(reset_email)
    preview = admin_client.post(
        reverse("admin:communications_communicationtemplate_preview", args=[reset_email.pk]),
        form_data(reset_email, **changes),
    )
    assert message in preview.content.decode()
    assert "No preview" in preview.content.decode()
    saved = admin_client.post(editor_url(reset_email), form_data(reset_email, **changes))
    assert saved.status_code == 200  # the form again, with the reason
    html = saved.content.decode()
    assert message in html
    assert "Nothing was saved" in html
    assert len(html) < 400_000  # the text itself, the reason, and nothing built from it
    draft = admin_client.post(
        editor_url(reset_email), {**form_data(reset_email, **changes), "_draft": "1"}
    )
    assert draft.status_code == 200
    assert message in draft.content.decode()
    assert snapshot(reset_email) == before


def test_saving_makes_a_new_active_version_that_the_next_message_uses(
    admin_client: Client, reset_email: CommunicationTemplate
) -> None:
    response = admin_client.post(
        editor_url(reset_email),
        form_data(reset_email, subject="Your reset link, {{ user_email }}", note="Friendlier"),
    )
    assert response.status_code == 302
    reset_email.refresh_from_db()
    assert reset_email.active_version is not None
    assert reset_email.active_version.number == 2
    assert reset_email.active_version.note == "Friendlier"
    assert reset_email.active_version.created_by is not None
    [log] = send(Event.PASSWORD_RESET, Recipient(email="ana@example.com"), RESET_CONTEXT)
    log.refresh_from_db()
    assert (log.status, log.template_version) == (MessageStatus.SENT, 2)
    assert mail.outbox[-1].subject == "Your reset link, ana@example.com"


def test_the_preview_button_renders_without_saving(
    admin_client: Client, reset_email: CommunicationTemplate
) -> None:
    before = snapshot(reset_email)
    response = admin_client.post(
        editor_url(reset_email), {**form_data(reset_email, subject="Draft!"), "_preview": "1"}
    )
    assert response.status_code == 200
    assert "Draft!" in response.content.decode()
    assert snapshot(reset_email) == before


def test_rollback_restores_the_old_text(
    admin_client: Client, reset_email: CommunicationTemplate
) -> None:
    original = reset_email.active_version
    assert original is not None
    admin_client.post(editor_url(reset_email), form_data(reset_email, subject="Changed"))
    reset_email.refresh_from_db()
    assert reset_email.active_version is not None
    assert reset_email.active_version.subject == "Changed"
    response = admin_client.post(
        reverse("admin:communications_communicationtemplate_activate", args=[reset_email.pk, 1]),
        follow=True,
    )
    assert "Version 1 is the active text" in response.content.decode()
    reset_email.refresh_from_db()
    assert reset_email.active_version_id == original.pk
    assert reset_email.versions.count() == 2  # nothing is deleted; v2 can come back
    send(Event.PASSWORD_RESET, Recipient(email="ana@example.com"), RESET_CONTEXT)
    assert mail.outbox[-1].subject == "Reset your Giftwell password"


def test_a_version_that_no_longer_renders_is_not_activated(
    reset_email: CommunicationTemplate,
) -> None:
    old = reset_email.active_version
    assert old is not None
    template_version_create(
        template=reset_email,
        subject="Reset",
        body_text="{{ password_reset_url }}",
        body_html="",
        note="",
        actor=None,
    )
    reset_email.variables = ["site_name", "password_reset_url"]  # user_email withdrawn
    reset_email.save()
    with pytest.raises(TemplateRefused, match="user_email"):
        template_version_activate(version=old, actor=None)
    reset_email.refresh_from_db()
    assert reset_email.active_version is not None
    assert reset_email.active_version.number == 2


def test_sms_templates_have_no_subject_or_html(admin_client: Client) -> None:
    template = template_for(event=Event.OTP_CODE, channel="sms")
    assert template is not None
    html = admin_client.get(editor_url(template)).content.decode()
    assert 'name="subject"' not in html
    assert 'name="body_html"' not in html
    assert "Text message (" in html  # the preview counts characters
    with pytest.raises(TemplateRefused, match="only email"):
        template_version_create(
            template=template,
            subject="",
            body_text="{{ code }}",
            body_html="<p>{{ code }}</p>",
            note="",
            actor=None,
        )


def test_view_only_staff_see_the_text_but_cannot_change_it(
    reset_email: CommunicationTemplate,
) -> None:
    viewer: User = UserFactory(email="viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_communicationtemplate"))
    client = Client()
    client.force_login(viewer)
    page = client.get(editor_url(reset_email))
    assert page.status_code == 200
    assert "Save and publish" not in page.content.decode()
    assert "Save as draft" not in page.content.decode()
    assert "Send a test message" not in page.content.decode()
    before = snapshot(reset_email)
    assert client.post(editor_url(reset_email), form_data(reset_email)).status_code == 403
    activate = reverse(
        "admin:communications_communicationtemplate_activate", args=[reset_email.pk, 1]
    )
    assert client.post(activate).status_code == 403
    preview = reverse("admin:communications_communicationtemplate_preview", args=[reset_email.pk])
    assert client.post(preview, form_data(reset_email)).status_code == 403
    assert snapshot(reset_email) == before


def test_people_who_are_not_staff_are_sent_to_the_admin_sign_in(
    client: Client, reset_email: CommunicationTemplate
) -> None:
    client.force_login(UserFactory(email="shopper@example.com"))
    response = client.get(editor_url(reset_email))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_another_admins_preview_frame_is_not_served(
    admin_client: Client, reset_email: CommunicationTemplate
) -> None:
    html = admin_client.get(editor_url(reset_email)).content.decode()
    frame = re.search(r'<iframe class="rendered-html" src="([^"]+)"', html)
    assert frame
    other = Client()
    other.force_login(UserFactory(email="other@example.com", is_staff=True, is_superuser=True))
    assert other.get(frame.group(1)).status_code == 404


def test_versions_are_numbered_in_order_under_one_writer(
    reset_email: CommunicationTemplate,
) -> None:
    for n in range(3):
        template_version_create(
            template=reset_email,
            subject=f"Reset {n}",
            body_text="{{ password_reset_url }}",
            body_html="",
            note="",
            actor=None,
        )
    numbers = list(
        TemplateVersion.objects.filter(template=reset_email)
        .order_by("number")
        .values_list("number", flat=True)
    )
    assert numbers == [1, 2, 3, 4]


def test_inline_images_are_shown_as_a_placeholder_in_the_preview(admin_client: Client) -> None:
    template = template_for(event=Event.GIFT_CARD_DELIVERED, channel="email")
    assert template is not None
    html = admin_client.get(editor_url(template)).content.decode()
    frame = re.search(r'<iframe class="rendered-html" src="([^"]+)"', html)
    assert frame
    framed = admin_client.get(frame.group(1)).content.decode()
    assert "cid:" not in framed
    assert 'src="data:image/svg+xml;base64,' in framed


# --- A huge text saved by an older release ------------------------------------------


def test_the_editor_of_a_text_that_would_be_huge_stays_small_and_can_roll_back(
    admin_client: Client, reset_email: CommunicationTemplate
) -> None:
    # As an older release saved and activated it: every email would have been 100 MB.
    assert reset_email.active_version is not None
    huge = TemplateVersion.objects.create(
        template=reset_email,
        number=2,
        subject=reset_email.active_version.subject,
        body_text="{{ 'a' * 100000000 }}",
    )
    reset_email.active_version = huge
    reset_email.save(update_fields=["active_version"])

    page = admin_client.get(editor_url(reset_email))

    assert page.status_code == 200
    html = page.content.decode()
    assert len(html) < 200_000
    assert "repeats a text or a list past 262,144" in html
    assert "Roll back to v1" in html
    rolled_back = admin_client.post(
        reverse("admin:communications_communicationtemplate_activate", args=[reset_email.pk, 1])
    )
    assert rolled_back.status_code == 302
    reset_email.refresh_from_db()
    assert reset_email.active_version is not None
    assert reset_email.active_version.number == 1


def test_the_versions_show_an_excerpt_of_each_body_not_the_whole_text(
    admin_client: Client, reset_email: CommunicationTemplate
) -> None:
    long_text = "{{ password_reset_url }} " + "Lorem ipsum dolor sit amet. " * 300
    admin_client.post(editor_url(reset_email), form_data(reset_email, body_text=long_text))
    admin_client.post(
        reverse("admin:communications_communicationtemplate_activate", args=[reset_email.pk, 1])
    )

    html = admin_client.get(editor_url(reset_email)).content.decode()

    versions = html[html.index('id="versions"') : html.index('id="history"')]
    assert "{{ password_reset_url }} Lorem ipsum dolor sit amet. Lorem" in versions
    assert versions.count("Lorem ipsum") < 10
    assert "We received a request to reset the password" in versions  # v1, in excerpt


# --- Drafts -------------------------------------------------------------------------


def test_a_draft_is_saved_without_changing_what_is_sent(
    admin_client: Client, reset_email: CommunicationTemplate
) -> None:
    active_before = reset_email.active_version_id

    response = admin_client.post(
        editor_url(reset_email),
        {**form_data(reset_email, subject="Draft: {{ user_email }}"), "_draft": "1"},
    )

    assert response.status_code == 302
    assert response["Location"].endswith("?version=2")
    reset_email.refresh_from_db()
    assert reset_email.active_version_id == active_before
    draft = reset_email.versions.get(number=2)
    assert draft.is_draft
    assert not draft.activations.exists()
    send(Event.PASSWORD_RESET, Recipient(email="ana@example.com"), RESET_CONTEXT)
    assert mail.outbox[-1].subject == "Reset your Giftwell password"
    # The draft opens in the editor, and the active text's page points to it.
    opened = admin_client.get(response["Location"]).content.decode()
    assert "Editing from version 2 (a draft, not published)" in opened
    assert 'value="Draft: {{ user_email }}"' in opened
    assert "<em>(draft)</em>" in opened
    assert "Publish v2" in opened
    assert (
        "Open draft v2 in the editor" in admin_client.get(editor_url(reset_email)).content.decode()
    )


def test_publishing_a_draft_makes_it_the_active_text_and_records_who(
    admin_client: Client, reset_email: CommunicationTemplate
) -> None:
    admin_client.post(
        editor_url(reset_email),
        {**form_data(reset_email, subject="Draft: {{ user_email }}"), "_draft": "1"},
    )

    response = admin_client.post(
        reverse("admin:communications_communicationtemplate_activate", args=[reset_email.pk, 2]),
        follow=True,
    )

    html = response.content.decode()
    assert "Version 2 is the active text" in html
    reset_email.refresh_from_db()
    assert reset_email.active_version is not None
    assert (reset_email.active_version.number, reset_email.active_version.is_draft) == (2, False)
    history = html[html.index('id="history"') :]
    assert "Published: v2 became the active text, in place of v1." in history
    assert "root@example.com" in history
    send(Event.PASSWORD_RESET, Recipient(email="ana@example.com"), RESET_CONTEXT)
    assert mail.outbox[-1].subject == "Draft: ana@example.com"


def test_the_history_shows_rollbacks_with_who_and_when(
    admin_client: Client, reset_email: CommunicationTemplate
) -> None:
    admin_client.post(editor_url(reset_email), form_data(reset_email, subject="Changed"))
    admin_client.post(
        reverse("admin:communications_communicationtemplate_activate", args=[reset_email.pk, 1])
    )

    html = admin_client.get(editor_url(reset_email)).content.decode()

    history = html[html.index('id="history"') :]
    rows = re.findall(r"<tr>\s*<td><time datetime=\"([^\"]+)\">.*?</tr>", history, re.DOTALL)
    assert len(rows) == 3  # v1 as installed, v2 published, v1 again
    assert "Rolled back: v1 became the active text, in place of v2." in history
    assert "Saved and published" not in history
    assert "Published: v2 became the active text, in place of v1." in history
    assert history.count("root@example.com") == 2


@pytest.mark.parametrize("number", ["abc", "0", "7", "99999999999999999999"])
def test_opening_a_version_that_does_not_exist_is_not_found(
    admin_client: Client, reset_email: CommunicationTemplate, number: str
) -> None:
    assert admin_client.get(f"{editor_url(reset_email)}?version={number}").status_code == 404


def test_another_templates_version_cannot_be_opened(
    admin_client: Client, reset_email: CommunicationTemplate
) -> None:
    other = template_for(event=Event.PASSWORD_CHANGED, channel="email")
    assert other is not None
    admin_client.post(editor_url(other), form_data(other, subject="Other v2"))

    assert admin_client.get(f"{editor_url(reset_email)}?version=2").status_code == 404


# --- A test message of the text being edited -----------------------------------------


def test_a_test_message_sends_the_text_being_edited_and_saves_nothing(
    admin_client: Client, reset_email: CommunicationTemplate
) -> None:
    before = snapshot(reset_email)
    data = {
        **form_data(reset_email, subject="Trying: {{ user_email }}", body_text="{{ site_name }}"),
        "test_recipient": "qa@example.com",
        "_test": "1",
    }

    response = admin_client.post(editor_url(reset_email), data)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Test message of this text to q***@example.com: Sent. Nothing was saved." in html
    assert 'value="Trying: {{ user_email }}"' in html  # the text stays in the editor
    [email] = mail.outbox
    assert email.to == ["qa@example.com"]
    assert email.subject == "Trying: ana@example.com"  # the sample data
    assert email.body == "Giftwell"
    assert snapshot(reset_email) == before
    log = CommunicationLog.objects.get()
    assert (log.event, log.template, log.template_version) == (
        Event.TEST_MESSAGE,
        reset_email,
        None,
    )
    assert log.reason == "test of the text being edited for Account: password reset (Email)"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"test_recipient": ""}, "Enter where the test message goes."),
        ({"test_recipient": "not an address"}, "Enter a valid email address."),
        ({"body_text": "{{ 1/0 }}", "test_recipient": "qa@example.com"}, "division by zero"),
    ],
)
def test_a_test_message_that_cannot_go_sends_nothing(
    admin_client: Client,
    reset_email: CommunicationTemplate,
    changes: dict[str, str],
    message: str,
) -> None:
    before = snapshot(reset_email)

    response = admin_client.post(
        editor_url(reset_email), {**form_data(reset_email), "_test": "1", **changes}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "Nothing was sent" in html
    assert mail.outbox == []
    assert not CommunicationLog.objects.exists()
    assert snapshot(reset_email) == before


def test_a_test_message_needs_the_test_message_permission(
    reset_email: CommunicationTemplate,
) -> None:
    editor: User = UserFactory(email="editor@example.com", is_staff=True)
    editor.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_communicationtemplate", "change_communicationtemplate"]
        )
    )
    client = Client()
    client.force_login(editor)
    assert "Send a test message" not in client.get(editor_url(reset_email)).content.decode()

    response = client.post(
        editor_url(reset_email),
        {**form_data(reset_email), "test_recipient": "qa@example.com", "_test": "1"},
    )

    assert response.status_code == 403
    assert mail.outbox == []
    assert not CommunicationLog.objects.exists()


def test_an_sms_test_goes_to_a_phone_number(admin_client: Client, sms_outbox: list) -> None:
    template = template_for(event=Event.OTP_CODE, channel="sms")
    assert template is not None

    admin_client.post(
        editor_url(template),
        {
            "body_text": "Code {{ code }} for {{ purpose }}",
            "note": "",
            "test_recipient": "+44 7700 900123",
            "_test": "1",
        },
    )

    [sms] = sms_outbox
    assert (sms.to, sms.text) == ("+447700900123", "Code 123456 for sign-in")
