"""``manage.py create_merchant SLUG --name NAME --owner-email EMAIL``.

Creates the merchant and invites its owner: the invitation goes by email and its link is
printed too, for an operator who hands it over another way. Nobody owns the merchant
until the holder of the address accepts. ``--resend`` sends the open owner invitation of
an existing merchant again (with a new link; the old one stops working).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from core.money import CURRENCY_EXPONENTS
from merchants.models import Merchant, Role
from merchants.selectors import open_invitations
from merchants.services import IssuedInvitation, invitation_resend, invitation_send, merchant_create


class Command(BaseCommand):
    help = "Create a merchant and invite its owner (or resend that invitation with --resend)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", help="The merchant's name (required unless --resend).")
        parser.add_argument("--owner-email", help="The owner's email address.")
        parser.add_argument("--currency", default="EUR", choices=sorted(CURRENCY_EXPONENTS))
        parser.add_argument(
            "--resend",
            action="store_true",
            help="Send the owner invitation of an existing merchant again, with a new link.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["resend"]:
                issued = self._resend(options["slug"], options.get("owner_email") or "")
            else:
                issued = self._create(options)
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc
        invitation = issued.invitation
        self.stdout.write(
            f"Invitation for {invitation.email} to own {invitation.merchant.name} "
            f"{'sent again' if issued.resent else 'sent'} by email; it works once, until "
            f"{invitation.expires_at:%Y-%m-%d %H:%M %Z}. The link:"
        )
        self.stdout.write(issued.url)

    def _create(self, options: dict[str, Any]) -> IssuedInvitation:
        if not options.get("name") or not options.get("owner_email"):
            raise CommandError("--name and --owner-email are required to create a merchant.")
        result = merchant_create(
            name=options["name"],
            slug=options["slug"],
            currency=options["currency"],
            owner_email=options["owner_email"],
        )
        merchant = result.merchant
        self.stdout.write(
            self.style.SUCCESS(
                f"Created merchant {merchant.name} ({merchant.slug}, {merchant.public_id})."
            )
        )
        return result.invitation

    def _resend(self, slug: str, email: str) -> IssuedInvitation:
        merchant = Merchant.objects.filter(slug=slug).first()
        if merchant is None:
            raise CommandError(f"No merchant with the address '{slug}'.")
        if email:
            return invitation_send(merchant=merchant, email=email, role=Role.OWNER)
        invitation = open_invitations(merchant=merchant, role=Role.OWNER).first()
        if invitation is None:
            raise CommandError(
                f"{merchant.name} has no open owner invitation: pass --owner-email to invite one."
            )
        return invitation_resend(invitation=invitation)
