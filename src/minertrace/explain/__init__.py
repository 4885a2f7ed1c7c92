"""Why a UID has the weight it has: the model, its reasons, read from the database."""

from minertrace.explain.model import Explanation, Reason, Stage, UnknownUidError, explain

__all__ = ["Explanation", "Reason", "Stage", "UnknownUidError", "explain"]
