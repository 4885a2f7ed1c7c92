"""minertrace.weights."""
