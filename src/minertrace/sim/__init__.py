"""minertrace.sim."""
