"""What `explain` refuses: a UID it cannot know, a cycle that does not exist."""

from __future__ import annotations


class UnknownUidError(LookupError):
    """The UID is neither registered nor part of any recorded cycle."""


class InvalidUidError(UnknownUidError, ValueError):
    """The value cannot be a UID at all (negative, or beyond the database's integer range)."""


class UnknownCycleError(LookupError):
    """The cycle asked for does not exist (or is not one of the validator asked for)."""
