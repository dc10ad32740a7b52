"""Audit: the append-only, hash-chained trail of who did what."""
