"""What the till's views (``giftcards.views.till``) use besides the services: its forms
and the confirmations kept in the clerk's session."""
