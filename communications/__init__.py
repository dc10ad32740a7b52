"""Communications: every outgoing message, its channels, templates and log."""
