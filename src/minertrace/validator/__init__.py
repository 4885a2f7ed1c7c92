"""minertrace.validator."""
