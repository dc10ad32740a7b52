"""Tenancy: merchants, their staff memberships and roles, API keys, and the one
mechanism every merchant-scoped view and endpoint uses to find its merchant."""
