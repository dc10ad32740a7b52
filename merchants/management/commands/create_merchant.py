"""``manage.py create_merchant SLUG --name NAME --owner-email EMAIL``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from core.money import CURRENCY_EXPONENTS
from merchants.services import merchant_create


class Command(BaseCommand):
    help = "Create a merchant and its owner account."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--currency", default="EUR", choices=sorted(CURRENCY_EXPONENTS))

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = merchant_create(
                name=options["name"],
                slug=options["slug"],
                currency=options["currency"],
                owner_email=options["owner_email"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc
        merchant, owner = result.merchant, result.owner
        self.stdout.write(
            self.style.SUCCESS(
                f"Created merchant {merchant.name} ({merchant.slug}, {merchant.public_id})."
            )
        )
        if result.owner_created:
            self.stdout.write(
                f"Owner account {owner.email} created without a password: they set one with "
                "'Forgot your password?' on the sign-in page."
            )
        else:
            self.stdout.write(f"Existing account {owner.email} is now the owner.")
