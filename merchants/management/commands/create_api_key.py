"""``manage.py create_api_key SLUG [--name NAME] [--scopes ...]``; the key alone is the
last line of stdout, and is shown only this once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from merchants.models import Merchant
from merchants.services import API_SCOPES, api_key_create


class Command(BaseCommand):
    help = "Create an API key for a merchant and print it (only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", default="API key")
        parser.add_argument(
            "--scopes",
            nargs="*",
            default=None,
            help=f"Scopes to grant (default: all). Known: {', '.join(API_SCOPES)}.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        merchant = Merchant.objects.filter(slug=options["slug"]).first()
        if merchant is None:
            raise CommandError(f"No merchant with slug '{options['slug']}'.")
        scopes: list[str] = []
        for item in options["scopes"] or []:
            scopes.extend(s for s in item.replace(",", " ").split() if s)
        try:
            created = api_key_create(merchant=merchant, name=options["name"], scopes=scopes or None)
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(
            f"Created API key '{created.api_key.name}' for {merchant.slug} with scopes "
            f"{', '.join(created.api_key.scopes)}. Store it now: it is not shown again."
        )
        self.stdout.write(created.plaintext)
