"""API v1 gift card endpoints (API.md "Gift cards")."""
