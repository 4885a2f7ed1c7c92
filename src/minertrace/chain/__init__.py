"""minertrace.chain."""
