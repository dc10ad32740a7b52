"""Admin for message templates (CM-4): the editor with a live preview, drafts, test
messages, the versions with rollback to any of them, and the history of activations.

A template's change page is the editor: it shows the active text (or, with
``?version=N``, any version, a draft say). "Save and publish" makes a new version that
becomes active at once; "Save as draft" keeps a new version that sends nothing until it
is activated (``communications.template_services``). A text that does not render with
the template's sample data, or with a variable it uses empty or not given, or past the
channel's limits, is refused with the part and the reason, and nothing is saved. The
preview renders the text being typed (htmx posts the form as it changes; without
JavaScript the "Preview" button does the same) and never saves; "Send a test message"
sends that same text, rendered with the sample data, to one address.

The HTML part of an email is previewed in a sandboxed frame served by its own view, with
a policy that lets the email's own inline styles apply but runs no script, so admins see
the message as a mail client would without the page's policy being loosened.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

import structlog
from django import forms
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from accounts.http import signed_in_user
from communications.admin_reports import OUTCOME_LEVELS, TEST_MESSAGE_PERMISSION
from communications.forms_reports import TestTarget, test_target
from communications.models import (
    Channel,
    CommunicationTemplate,
    MessageStatus,
    TemplateVersion,
)
from communications.rendering import ALLOWED_FILTERS, LIMITS, MAX_SOURCE_CHARS, Rendered
from communications.template_selectors import (
    EXCERPT_CHARS,
    template_history,
    template_versions,
)
from communications.template_services import (
    TemplateRefused,
    template_preview,
    template_test_send,
    template_version_activate,
    template_version_create,
)

logger = structlog.get_logger(__name__)

PREVIEW_TTL_SECONDS = 15 * 60
# The framed HTML preview: the email's inline styles and images apply; nothing runs, and
# only this admin's own pages may frame it.
PREVIEW_FRAME_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)


_CID_SRC = re.compile(r"""src=["']cid:[^"']*["']""", re.IGNORECASE)
_IMAGE_PLACEHOLDER = (
    "data:image/svg+xml;base64,"
    + base64.b64encode(
        b'<svg xmlns="http://www.w3.org/2000/svg" width="160" height="160" viewBox="0 0 160 160">'
        b'<rect width="160" height="160" fill="#eee" stroke="#999"/>'
        b'<text x="80" y="85" font-family="sans-serif" font-size="14" text-anchor="middle">'
        b"image in the email</text></svg>"
    ).decode()
)


class TemplateTextForm(forms.Form):
    """The parts of one version. Which parts apply depends on the template's channel."""

    subject = forms.CharField(
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"class": "vTextField", "autocomplete": "off"}),
    )
    body_text = forms.CharField(
        label="Text body",
        max_length=MAX_SOURCE_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80, "spellcheck": "true"}),
        help_text="What SMS and push show, and the plain-text part of an email.",
    )
    body_html = forms.CharField(
        label="HTML body",
        required=False,
        max_length=MAX_SOURCE_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80, "spellcheck": "false"}),
        help_text="Optional. Variables are always escaped here; leave empty for text-only email.",
    )
    note = forms.CharField(
        label="What changed",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text="Shown in the version history.",
    )

    def __init__(self, *args: Any, template: CommunicationTemplate, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.template = template
        if template.channel == Channel.EMAIL:
            self.fields["subject"].required = True
        else:
            del self.fields["body_html"]
            if template.channel == Channel.SMS:
                del self.fields["subject"]
            else:
                self.fields["subject"].label = "Title"

    def parts(self) -> dict[str, str]:
        data = self.cleaned_data
        return {
            "subject": data.get("subject", "") or "",
            "body_text": data.get("body_text", "") or "",
            "body_html": data.get("body_html", "") or "",
        }

    def preview(self) -> Rendered | None:
        """Render the text with the sample data; a refusal becomes the named field's error."""
        if not self.is_valid():
            return None
        try:
            return template_preview(template=self.template, **self.parts())
        except TemplateRefused as exc:
            self.add_refusal(exc)
            return None

    def add_refusal(self, exc: TemplateRefused) -> None:
        field = exc.field if exc.field in self.fields else None
        self.add_error(field, exc.detail)


class TemplateTestForm(forms.Form):
    """Where "Send a test message" sends the text being edited, on the template's channel."""

    test_recipient = forms.CharField(
        label="Send a test to",
        max_length=254,
        required=False,
        widget=forms.TextInput(attrs={"class": "vTextField", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, template: CommunicationTemplate, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.template = template
        helps: dict[str, str] = {
            Channel.EMAIL: "An email address.",
            Channel.SMS: "A phone number in international format, e.g. +447700900123.",
            Channel.PUSH: "The email address of a person whose browsers allow notifications.",
        }
        self.fields["test_recipient"].help_text = helps.get(str(template.channel), "")

    def target(self) -> TestTarget | None:
        """The address, or None with the reason added to the form."""
        if not self.is_valid():
            return None
        text = str(self.cleaned_data.get("test_recipient") or "").strip()
        if not text:
            self.add_error("test_recipient", "Enter where the test message goes.")
            return None
        try:
            return test_target(self.template.channel, text)
        except forms.ValidationError as exc:
            self.add_error("test_recipient", exc)
            return None


class TemplateVersionInline(admin.TabularInline[TemplateVersion, CommunicationTemplate]):
    """Read-only history on the template's "history of versions" (kept for the API of
    the admin; the editor shows the same list with rollback buttons)."""

    model = TemplateVersion
    extra = 0
    fields = ("number", "subject", "note", "created_by", "created_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CommunicationTemplate)
class CommunicationTemplateAdmin(admin.ModelAdmin[CommunicationTemplate]):
    list_display = ("event", "channel", "active_number", "active_since", "updated_at")
    list_filter = ("channel", "event")
    list_select_related = ("active_version",)
    search_fields = ("event", "description")
    readonly_fields = ("event", "channel", "variables", "active_version", "updated_at")

    @admin.display(description="active version")
    def active_number(self, obj: CommunicationTemplate) -> str:
        return f"v{obj.active_version.number}" if obj.active_version else "none"

    @admin.display(description="active version saved")
    def active_since(self, obj: CommunicationTemplate) -> Any:
        return obj.active_version.created_at if obj.active_version else None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # --- URLs ------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        extra = [
            path(
                "<int:template_id>/preview/",
                wrap(require_POST(self.preview_view)),
                name=f"{prefix}_preview",
            ),
            path(
                "<int:template_id>/preview/frame/<uuid:key>/",
                wrap(self.preview_frame_view),
                name=f"{prefix}_preview_frame",
            ),
            path(
                "<int:template_id>/versions/<int:number>/activate/",
                wrap(require_POST(self.activate_view)),
                name=f"{prefix}_activate",
            ),
        ]
        return extra + super().get_urls()

    def _template(self, request: HttpRequest, template_id: int) -> CommunicationTemplate:
        template = get_object_or_404(
            CommunicationTemplate.objects.select_related("active_version"), pk=template_id
        )
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        return template

    def _url(self, name: str, *args: Any) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}",
            args=args,
            current_app=self.admin_site.name,
        )

    # --- The editor (the change page) -------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            template_id = int(object_id)
        except ValueError:
            raise Http404("No such template.") from None
        template = self._template(request, template_id)
        can_edit = self.has_change_permission(request, template)
        can_test = can_edit and request.user.has_perm(TEST_MESSAGE_PERMISSION)
        active = template.active_version
        opened = self._opened_version(request, template)
        shown = opened or active
        initial = {
            "subject": shown.subject if shown else "",
            "body_text": shown.body_text if shown else "",
            "body_html": shown.body_html if shown else "",
        }
        rendered: Rendered | None = None
        tester = TemplateTestForm(template=template)
        if request.method == "POST":
            if not can_edit:
                raise PermissionDenied
            form = TemplateTextForm(request.POST, template=template)
            rendered = form.preview()
            if "_test" in request.POST:
                if not can_test:
                    raise PermissionDenied
                tester = TemplateTestForm(request.POST, template=template)
                if rendered is not None:
                    self._send_test(request, template, form, tester)
            elif rendered is not None and "_preview" not in request.POST:
                response = self._save(request, template, form)
                if response is not None:
                    return response
                rendered = None
            if form.errors or tester.errors:
                nothing = "sent" if "_test" in request.POST else "saved"
                messages.error(request, f"Nothing was {nothing}: please correct the errors below.")
        else:
            form = TemplateTextForm(initial=initial, template=template)
            if shown is not None:
                try:
                    rendered = template_preview(template=template, **initial)
                except TemplateRefused as exc:
                    # A text saved before today's rules: shown with why it fails, bound so
                    # that the reason can sit on its field.
                    form = TemplateTextForm(initial, initial=initial, template=template)
                    form.is_valid()
                    form.add_refusal(exc)
                    rendered = None
        if not can_edit:
            for field in form.fields.values():
                field.disabled = True
        versions = list(template_versions(template=template))
        newest = versions[0] if versions else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Edit message: {template}",
            "subtitle": None,
            "original": template,
            "template_obj": template,
            "form": form,
            "tester": tester if can_test else None,
            "can_edit": can_edit,
            "has_view_permission": True,
            "has_change_permission": can_edit,
            "versions": versions,
            "excerpt_chars": EXCERPT_CHARS,
            "history": list(template_history(template=template)),
            "active": active,
            "opened": opened,
            "newer_draft": (
                newest
                if newest is not None
                and newest.is_draft
                and (active is None or newest.number > active.number)
                and (opened is None or opened.pk != newest.pk)
                else None
            ),
            "limits": LIMITS[template.channel],
            "preview": self._preview_context(request, template, rendered),
            "preview_url": self._url("preview", template.pk),
            "declared": list(template.variables),
            "filters": list(ALLOWED_FILTERS),
            "sample": dict(template.sample_context or {}),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/communications/communicationtemplate/editor.html", context
        )

    def _opened_version(
        self, request: HttpRequest, template: CommunicationTemplate
    ) -> TemplateVersion | None:
        """The version named by ``?version=N``, to edit from (a draft, an older text)."""
        raw = request.GET.get("version", "")
        if not raw:
            return None
        if not raw.isdigit() or len(raw) > 9:
            raise Http404("No such version.")
        return get_object_or_404(TemplateVersion, template=template, number=int(raw))

    def _save(
        self, request: HttpRequest, template: CommunicationTemplate, form: TemplateTextForm
    ) -> HttpResponse | None:
        """Save the form as a new version, published or a draft; None when refused."""
        publish = "_draft" not in request.POST
        try:
            version = template_version_create(
                template=template,
                actor=signed_in_user(request),
                note=form.cleaned_data.get("note", ""),
                publish=publish,
                **form.parts(),
            )
        except TemplateRefused as exc:
            form.add_refusal(exc)
            return None
        if publish:
            messages.success(
                request,
                f"Saved as version {version.number}; it is now the active text of “{template}”.",
            )
            return HttpResponseRedirect(request.path)
        messages.success(
            request,
            f"Saved as draft version {version.number}. Nothing sent changes until it is published.",
        )
        return HttpResponseRedirect(f"{request.path}?version={version.number}")

    def _send_test(
        self,
        request: HttpRequest,
        template: CommunicationTemplate,
        form: TemplateTextForm,
        tester: TemplateTestForm,
    ) -> None:
        target = tester.target()
        if target is None:
            return
        try:
            log = template_test_send(
                template=template,
                recipient=target.recipient,
                recipient_masked=target.address_masked,
                actor=signed_in_user(request),
                **form.parts(),
            )
        except TemplateRefused as exc:
            form.add_refusal(exc)
            return
        status = MessageStatus(log.status)
        went = (MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.DELIVERED)
        reason = f" ({log.reason})" if log.reason and status not in went else ""
        self.message_user(
            request,
            f"Test message of this text to {target.address_masked}: "
            f"{log.get_status_display()}{reason}. Nothing was saved.",
            level=OUTCOME_LEVELS.get(status, messages.INFO),
        )

    def _preview_context(
        self, request: HttpRequest, template: CommunicationTemplate, rendered: Rendered | None
    ) -> dict[str, Any] | None:
        if rendered is None:
            return None
        frame_url = ""
        if rendered.html:
            key = uuid.uuid4()
            cache.set(
                f"comm:preview:{key}",
                {"user": request.user.pk, "template": template.pk, "html": rendered.html},
                PREVIEW_TTL_SECONDS,
            )
            frame_url = self._url("preview_frame", template.pk, key)
        return {"rendered": rendered, "frame_url": frame_url, "channel": template.channel}

    def preview_view(self, request: HttpRequest, template_id: int) -> HttpResponse:
        """The preview panel for the text being typed (htmx); never saves."""
        template = self._template(request, template_id)
        if not self.has_change_permission(request, template):
            raise PermissionDenied
        form = TemplateTextForm(request.POST, template=template)
        rendered = form.preview()
        return TemplateResponse(
            request,
            "admin/communications/communicationtemplate/_preview.html",
            {
                "form": form,
                "preview": self._preview_context(request, template, rendered),
                "template_obj": template,
            },
        )

    @xframe_options_sameorigin
    def preview_frame_view(
        self, request: HttpRequest, template_id: int, key: uuid.UUID
    ) -> HttpResponse:
        """The rendered HTML email, for the preview frame only."""
        self._template(request, template_id)
        stored = cache.get(f"comm:preview:{key}")
        mine = stored and stored.get("user") == request.user.pk
        if not mine or stored.get("template") != template_id:
            return HttpResponse(
                "This preview has expired: change the text or reload the page.",
                status=404,
                content_type="text/plain; charset=utf-8",
            )
        # Inline images (cid:...) travel with the real message; the preview shows a
        # labelled placeholder in their place.
        html = _CID_SRC.sub(f'src="{_IMAGE_PLACEHOLDER}"', str(stored["html"]))
        if not html.lstrip()[:14].lower().startswith(("<!doctype", "<html")):
            # Most messages are a body fragment, as mail clients accept; frame it as one.
            html = (
                '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                f"<title>Email preview</title></head><body>{html}</body></html>"
            )
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = PREVIEW_FRAME_POLICY
        response["Cache-Control"] = "no-store"
        return response

    # --- Rollback ----------------------------------------------------------------------

    def activate_view(self, request: HttpRequest, template_id: int, number: int) -> HttpResponse:
        """Make an earlier (or later) version the active text again."""
        template = self._template(request, template_id)
        if not self.has_change_permission(request, template):
            raise PermissionDenied
        version = get_object_or_404(TemplateVersion, template=template, number=number)
        editor = self._url("change", template.pk)
        if template.active_version_id == version.pk:
            messages.info(request, f"Version {number} is already the active text.")
            return HttpResponseRedirect(editor)
        try:
            template_version_activate(version=version, actor=signed_in_user(request))
        except TemplateRefused as exc:
            messages.error(
                request,
                f"Version {number} was not activated: it no longer renders ({exc.detail}). "
                "The active text is unchanged.",
            )
            return HttpResponseRedirect(editor)
        messages.success(request, f"Version {number} is the active text of “{template}” again.")
        return HttpResponseRedirect(editor)
