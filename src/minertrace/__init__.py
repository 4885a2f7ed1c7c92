"""minertrace: traceable weight setting for Bittensor subnet validators."""

__version__ = "0.1.0"

__all__ = ["__version__"]
