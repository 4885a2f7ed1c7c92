"""minertrace.api."""
