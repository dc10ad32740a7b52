"""Platform admin for products, gift cards and the ledger.

Cards and ledger rows are only ever changed by ``giftcards.services``: the admin shows
them read-only and its actions (void, expire) call the same services as the dashboard
and the API, with the admin as ``actor``. A card's code is never shown or searchable:
only its last four symbols, masked; ``code_digest`` and ``code_encrypted`` appear nowhere.
"""

from __future__ import annotations

import secrets
from functools import cache
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from accounts.models import User
from core.admin import ReadOnlyAdmin
from core.errors import ApplicationError
from core.money import format_money
from giftcards import services
from giftcards.idempotency import admin_void_key
from giftcards.models import FailedCodeLookup, GiftCard, Product, Transaction
from giftcards.product_services import product_set_active

# An admin action runs in the request; more cards than this belong in a job.
MAX_CARDS_PER_ACTION = 500
VOID_REASON_DEFAULT = "Voided by platform admin"
_CONFUSABLE = str.maketrans("OIL", "011")


def _actor(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _can_change_cards(request: HttpRequest) -> bool:
    return request.user.has_perm("giftcards.change_giftcard")


# --- Products -------------------------------------------------------------------------


@admin.register(Product)
class ProductAdmin(ReadOnlyAdmin):
    """Merchants run their catalogues from the dashboard, through ``product_services``
    (which also validates and re-encodes images, SE-7). The admin looks, and can take a
    product off sale or put it back."""

    list_display = (
        "name",
        "merchant",
        "currency",
        "amounts",
        "validity_days",
        "reloadable",
        "is_active",
        "created_at",
    )
    list_filter = ("merchant", "is_active", "currency")
    search_fields = ("name", "=public_id")
    list_select_related = ("merchant",)
    show_full_result_count = False
    fields = (
        "public_id",
        "merchant",
        "name",
        "description",
        "currency",
        "amounts",
        "validity_days",
        "reloadable",
        "is_active",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ("deactivate_selected", "activate_selected")

    def has_set_active_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("giftcards.change_product")

    @admin.display(description="Amounts")
    def amounts(self, obj: Product) -> str:
        if obj.denominations:
            return ", ".join(format_money(int(d), obj.currency) for d in obj.denominations)
        low = format_money(obj.min_amount, obj.currency) if obj.min_amount else "any"
        high = format_money(obj.max_amount, obj.currency) if obj.max_amount else "any"
        return f"{low} to {high}"

    def _set_active(self, request: HttpRequest, queryset: QuerySet[Product], active: bool) -> None:
        changed = 0
        for product in queryset.filter(is_active=not active).order_by("pk"):
            try:
                product_set_active(product=product, active=active)
            except ApplicationError as exc:
                self.message_user(
                    request, f"“{product.name}” was not put on sale: {exc.detail}", messages.ERROR
                )
                continue
            self.log_change(request, product, "Activated" if active else "Deactivated")
            changed += 1
        state = "back on sale" if active else "taken off sale"
        self.message_user(request, f"{changed} product(s) {state}.", messages.SUCCESS)

    @admin.action(description="Take selected products off sale", permissions=["set_active"])
    def deactivate_selected(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        self._set_active(request, queryset, active=False)

    @admin.action(description="Put selected products back on sale", permissions=["set_active"])
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        self._set_active(request, queryset, active=True)


# --- Gift cards and their ledger ------------------------------------------------------


class LedgerInline(admin.TabularInline[Transaction, GiftCard]):
    """The card's ledger, newest first. Append-only: nothing here can be added or edited."""

    model = Transaction
    fk_name = "gift_card"
    verbose_name = "ledger entry"
    verbose_name_plural = "Ledger"
    fields = (
        "public_id",
        "created_at",
        "kind",
        "amount_display",
        "balance_after_display",
        "reference",
        "reason",
        "actor",
    )
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Transaction]:
        return super().get_queryset(request).select_related("actor_user", "actor_api_key")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Amount")
    def amount_display(self, obj: Transaction) -> str:
        return format_money(obj.amount, obj.currency)

    @admin.display(description="Balance after")
    def balance_after_display(self, obj: Transaction) -> str:
        return format_money(obj.balance_after, obj.currency)

    @admin.display(description="Actor")
    def actor(self, obj: Transaction) -> str:
        return obj.actor_label


class VoidCardsForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        initial=VOID_REASON_DEFAULT,
        help_text="Recorded on each card's void ledger entry.",
    )
    # One token per rendered confirmation: submitting it twice voids nothing twice.
    token = forms.CharField(
        required=False, widget=forms.HiddenInput, max_length=64, initial=secrets.token_urlsafe
    )

    def clean_token(self) -> str:
        token: str = self.cleaned_data.get("token") or ""
        return (
            token if len(token) >= 16 and token.replace("-", "").replace("_", "").isalnum() else ""
        )


# Rendered from a string because this app has no admin templates of its own yet; it
# follows the shape of Django's delete confirmation page.
_VOID_CONFIRMATION_SOURCE = """{% extends "admin/base_site.html" %}
{% block bodyclass %}{{ block.super }} app-giftcards model-giftcard void-confirmation{% endblock %}
{% block breadcrumbs %}<div class="breadcrumbs">
<a href="{% url 'admin:index' %}">Home</a> &rsaquo;
<a href="{% url 'admin:app_list' app_label=opts.app_label %}">
{{ opts.app_config.verbose_name }}</a> &rsaquo;
<a href="{% url 'admin:giftcards_giftcard_changelist' %}">
{{ opts.verbose_name_plural|capfirst }}</a>
&rsaquo; Void cards</div>{% endblock %}
{% block content %}
<p>Void {{ cards|length }} card{{ cards|length|pluralize }}? Each card's remaining balance
leaves it through a <strong>void</strong> ledger entry. This cannot be undone.</p>
<ul>{% for row in rows %}<li>{{ row.card.public_id }}, {{ row.card.merchant }},
{{ row.card.masked_code }}: {{ row.balance }} ({{ row.card.get_status_display }})</li>{% endfor %}
</ul>
<form method="post">{% csrf_token %}
{{ form.as_p }}
{% for card in cards %}<input type="hidden" name="{{ checkbox_name }}" value="{{ card.pk }}">
{% endfor %}<input type="hidden" name="action" value="void_selected">
<input type="hidden" name="post" value="yes">
<input type="submit" value="Yes, void {{ cards|length }} card{{ cards|length|pluralize }}">
<a href="{% url 'admin:giftcards_giftcard_changelist' %}" class="button cancel-link">
No, take me back</a>
</form>
{% endblock %}"""


@cache
def _void_confirmation() -> Any:
    return engines["django"].from_string(_VOID_CONFIRMATION_SOURCE)


@admin.register(GiftCard)
class GiftCardAdmin(ReadOnlyAdmin):
    """Cards are issued, spent and voided through services, so the admin only views
    them; a form that saved the whole row could also write back a stale balance."""

    list_display = (
        "public_id",
        "merchant",
        "masked_code",
        "currency",
        "balance_display",
        "status",
        "expires_at",
        "created_at",
    )
    list_filter = ("merchant", "status", "currency")
    list_select_related = ("merchant",)
    # Handled by get_search_results; listed so the admin shows the search box.
    search_fields = ("=public_id", "recipient_email", "=last4")
    search_help_text = (
        "Last 4 symbols of the code, the card id (gc_…) or the recipient's email. "
        "Full codes are not searchable here."
    )
    show_full_result_count = False
    ordering = ("-created_at", "-id")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "public_id",
                    "merchant",
                    "product",
                    "masked_code",
                    "status",
                    "currency",
                    "initial_amount_display",
                    "balance_display",
                    "reloadable",
                    "expires_at",
                    "ledger_link",
                )
            },
        ),
        ("Recipient", {"fields": ("recipient_email", "recipient_phone")}),
        ("Record", {"fields": ("metadata", "issued_by", "created_at", "updated_at")}),
    )
    readonly_fields = (
        "public_id",
        "merchant",
        "product",
        "masked_code",
        "status",
        "currency",
        "initial_amount_display",
        "balance_display",
        "reloadable",
        "expires_at",
        "ledger_link",
        "recipient_email",
        "recipient_phone",
        "metadata",
        "issued_by",
        "created_at",
        "updated_at",
    )
    inlines = (LedgerInline,)
    actions = ("void_selected", "expire_selected")

    def get_queryset(self, request: HttpRequest) -> QuerySet[GiftCard]:
        # The code columns are never needed here, so they never leave the database.
        return super().get_queryset(request).defer("code_digest", "code_encrypted")

    # Permissions for the actions, which change cards through services.
    def has_void_permission(self, request: HttpRequest) -> bool:
        return _can_change_cards(request)

    def has_expire_permission(self, request: HttpRequest) -> bool:
        return _can_change_cards(request)

    def _selected_cards(
        self, request: HttpRequest, queryset: QuerySet[GiftCard]
    ) -> list[GiftCard] | None:
        # Ordered by id, the order row locks are taken in everywhere.
        cards = list(queryset.select_related("merchant").order_by("pk")[: MAX_CARDS_PER_ACTION + 1])
        if len(cards) > MAX_CARDS_PER_ACTION:
            self.message_user(
                request, f"Select at most {MAX_CARDS_PER_ACTION} cards at a time.", messages.ERROR
            )
            return None
        return cards

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[GiftCard], search_term: str
    ) -> tuple[QuerySet[GiftCard], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(public_id=term) | Q(recipient_email__iexact=term)
        compact = term.replace("-", "").replace(" ", "").replace("·", "").replace("…", "")
        if len(compact) == 4:
            condition |= Q(last4=compact.upper().translate(_CONFUSABLE))
        return queryset.filter(condition), False

    @admin.display(description="Code")
    def masked_code(self, obj: GiftCard) -> str:
        return obj.masked_code

    @admin.display(description="Balance", ordering="balance")
    def balance_display(self, obj: GiftCard) -> str:
        return format_money(obj.balance, obj.currency)

    @admin.display(description="Initial amount")
    def initial_amount_display(self, obj: GiftCard) -> str:
        return format_money(obj.initial_amount, obj.currency)

    @admin.display(description="Ledger")
    def ledger_link(self, obj: GiftCard) -> str:
        url = reverse("admin:giftcards_transaction_changelist")
        return format_html(
            '<a href="{}?{}">All ledger entries of this card</a>',
            url,
            urlencode({"q": obj.public_id}),
        )

    @admin.action(description="Void selected cards", permissions=["void"])
    def void_selected(
        self, request: HttpRequest, queryset: QuerySet[GiftCard]
    ) -> TemplateResponse | None:
        cards = self._selected_cards(request, queryset)
        if cards is None:
            return None
        form = VoidCardsForm(request.POST if request.POST.get("post") == "yes" else None)
        if not form.is_bound or not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Void gift cards",
                "opts": self.opts,
                "form": form,
                "cards": cards,
                "rows": [
                    {"card": card, "balance": format_money(card.balance, card.currency)}
                    for card in cards
                ],
                "checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, _void_confirmation(), context)

        reason: str = form.cleaned_data["reason"]
        token: str = form.cleaned_data["token"]
        voided = repeated = 0
        for card in cards:
            try:
                entry = services.giftcard_void(
                    merchant=card.merchant,
                    card_id=card.pk,
                    reason=reason,
                    actor=_actor(request),
                    idempotency_key=admin_void_key(token=token, card=card.pk) if token else "",
                )
            except ApplicationError as exc:
                self.message_user(request, f"Card {card.public_id}: {exc.detail}", messages.WARNING)
                continue
            if entry.replayed:
                repeated += 1
                continue
            voided += 1
            self.log_change(request, card, f"Voided: {reason}")
        if voided:
            self.message_user(request, f"Voided {voided} card(s).", messages.SUCCESS)
        if repeated:
            self.message_user(
                request,
                f"{repeated} card(s) were already voided by this same confirmation; "
                "nothing changed for them.",
                messages.INFO,
            )
        return None

    @admin.action(description="Expire selected cards past their date", permissions=["expire"])
    def expire_selected(self, request: HttpRequest, queryset: QuerySet[GiftCard]) -> None:
        cards = self._selected_cards(request, queryset)
        if cards is None:
            return
        expired = skipped = 0
        for card in cards:
            try:
                entry = services.giftcard_expire(
                    merchant=card.merchant, card_id=card.pk, actor=_actor(request)
                )
            except ApplicationError as exc:
                self.message_user(request, f"Card {card.public_id}: {exc.detail}", messages.WARNING)
                continue
            if entry is None:
                skipped += 1
                continue
            expired += 1
            self.log_change(request, card, "Expired: validity period ended")
        self.message_user(
            request,
            f"Expired {expired} card(s); {skipped} not past their date or already final.",
            messages.SUCCESS if expired else messages.INFO,
        )


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    """The ledger, append-only: everything is read-only, nothing can be added or removed."""

    list_display = (
        "public_id",
        "created_at",
        "merchant",
        "gift_card_link",
        "kind",
        "amount_display",
        "balance_after_display",
        "currency",
        "reference",
        "actor",
    )
    list_filter = ("kind", "merchant", "currency")
    list_select_related = ("merchant", "gift_card", "actor_user", "actor_api_key")
    search_fields = ("=public_id", "=gift_card__public_id")
    search_help_text = "A transaction id (txn_…) or a card id (gc_…)."
    show_full_result_count = False
    fields = (
        "public_id",
        "created_at",
        "merchant",
        "gift_card_link",
        "kind",
        "amount_display",
        "balance_after_display",
        "currency",
        "reference",
        "reason",
        "related",
        "actor",
        "idempotency_key",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Transaction]:
        return (
            super()
            .get_queryset(request)
            .select_related("gift_card")
            .defer("gift_card__code_digest", "gift_card__code_encrypted")
        )

    @admin.display(description="Gift card", ordering="gift_card")
    def gift_card_link(self, obj: Transaction) -> str:
        card = obj.gift_card
        url = reverse("admin:giftcards_giftcard_change", args=[card.pk])
        return format_html('<a href="{}">{}</a>', url, card.public_id)

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj: Transaction) -> str:
        return format_money(obj.amount, obj.currency)

    @admin.display(description="Balance after")
    def balance_after_display(self, obj: Transaction) -> str:
        return format_money(obj.balance_after, obj.currency)

    @admin.display(description="Actor")
    def actor(self, obj: Transaction) -> str:
        return obj.actor_label


@admin.register(FailedCodeLookup)
class FailedCodeLookupAdmin(ReadOnlyAdmin):
    """Unknown codes tried against a merchant (GC-5); the code itself is never stored."""

    list_display = (
        "created_at",
        "merchant",
        "channel",
        "ip_address",
        "api_key",
        "user",
        "throttled",
    )
    list_filter = ("channel", "throttled", "merchant")
    list_select_related = ("merchant", "api_key", "user")
    search_fields = ("=ip_address",)
    show_full_result_count = False
