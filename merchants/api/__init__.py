"""Merchant API: key authentication and the key's own merchant."""
