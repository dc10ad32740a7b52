"""Load benchmark of the redemption API: ``make bench`` runs ``python -m tools.bench.run``.

See docs/performance.md for the method, the figures and what to do about them.
"""
