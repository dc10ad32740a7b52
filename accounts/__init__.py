"""People: the user model (login by email), password rules, lockout and account pages."""
