"""The merchant dashboard's gift card pages, one module per area."""
