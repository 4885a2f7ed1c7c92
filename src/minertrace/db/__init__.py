"""minertrace.db."""
