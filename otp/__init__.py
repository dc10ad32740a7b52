"""One-time passwords: numeric codes for sign-in, phone checks and sensitive actions."""
