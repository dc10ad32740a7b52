"""Demo data for the zero-setup run (``manage.py seed_demo``). Nothing imports this app."""
