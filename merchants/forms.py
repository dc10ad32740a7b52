"""Forms of the merchant area."""

from __future__ import annotations

from typing import Any

from django import forms


class InvitationPasswordForm(forms.Form):
    """Accept an invitation by choosing the account's password (the password rules are
    applied by the service, against the account they protect)."""

    password1 = forms.CharField(
        label="Choose a password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, with upper and lower case letters, a digit and a symbol.",
    )
    password2 = forms.CharField(
        label="Type it again",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ: type the same one twice.")
        return data
