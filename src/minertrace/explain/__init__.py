"""Why a UID has the weight it has: the model, its reasons (pure), read through `store/`.

Entry point: :func:`explain`, returning an :class:`Explanation` (`to_dict()` for JSON).
"""

from minertrace.explain.errors import InvalidUidError, UnknownCycleError, UnknownUidError
from minertrace.explain.model import Explanation, explain
from minertrace.explain.parts import ChainInfo, CycleInfo, Reason, Stage, StageValue, Verification

__all__ = [
    "ChainInfo",
    "CycleInfo",
    "Explanation",
    "InvalidUidError",
    "Reason",
    "Stage",
    "StageValue",
    "UnknownCycleError",
    "UnknownUidError",
    "Verification",
    "explain",
]
