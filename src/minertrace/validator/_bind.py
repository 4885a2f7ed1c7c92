"""Moved to `minertrace.store.transaction`; kept until `minertrace.explain` imports it there."""

from minertrace.store import transaction

__all__ = ["transaction"]
