"""Password rules beyond Django's built-in validators (SE-1)."""

from __future__ import annotations

import string
from typing import Any

from django.core.exceptions import ValidationError


class CharacterClassValidator:
    """Require an upper-case letter, a lower-case letter, a digit and a symbol."""

    _RULES = (
        ("upper", str.isupper, "an upper-case letter"),
        ("lower", str.islower, "a lower-case letter"),
        ("digit", str.isdigit, "a digit"),
        (
            "symbol",
            lambda c: c in string.punctuation or (not c.isalnum() and not c.isspace()),
            "a symbol such as ! ? # or %",
        ),
    )

    def validate(self, password: str, user: Any = None) -> None:
        missing = [label for _, test, label in self._RULES if not any(test(c) for c in password)]
        if missing:
            raise ValidationError(
                "Your password must contain %(missing)s.",
                code="password_missing_character_class",
                params={"missing": ", ".join(missing)},
            )

    def get_help_text(self) -> str:
        return (
            "Your password must contain an upper-case letter, a lower-case letter, "
            "a digit and a symbol."
        )
