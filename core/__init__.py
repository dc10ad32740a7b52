"""Shared infrastructure: errors, request ids and logging, health checks, base pages."""
