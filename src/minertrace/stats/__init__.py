"""minertrace.stats."""
