"""Payouts: merchant balances, commission and transfers to merchants."""
