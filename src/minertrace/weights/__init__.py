"""minertrace.weights: the Gaia weight rules, vectorised over UIDs, with a complete trace.

Pure numpy: no database, clock or network. Entry point: :func:`compute_cycle`.
"""

from minertrace.weights.config import TASKS, WeightConfig
from minertrace.weights.engine import compute_cycle
from minertrace.weights.inputs import CycleInputError, CycleInputs, Node, NodeList, ScoreRow
from minertrace.weights.pathways import TaskStage
from minertrace.weights.submission import normalize_max_weight, u16_decode, u16_encode
from minertrace.weights.trace import CycleTrace, MinerRecord

__all__ = [
    "TASKS",
    "CycleInputError",
    "CycleInputs",
    "CycleTrace",
    "MinerRecord",
    "Node",
    "NodeList",
    "ScoreRow",
    "TaskStage",
    "WeightConfig",
    "compute_cycle",
    "normalize_max_weight",
    "u16_decode",
    "u16_encode",
]
