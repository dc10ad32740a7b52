"""API v1 one-time code endpoints."""
