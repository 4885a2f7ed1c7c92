"""minertrace.weights: the Gaia weight rules, vectorised over UIDs, with a complete trace.

Pure numpy: no database, clock or network. Entry point: :func:`compute_cycle`.
"""

from minertrace.weights.config import TASKS, WeightConfig
from minertrace.weights.engine import compute_cycle
from minertrace.weights.inputs import CycleInputError, CycleInputs, Node, NodeList, ScoreRow
from minertrace.weights.jsonsafe import finite_or_null
from minertrace.weights.pathways import PATHWAY_LABELS, TaskStage
from minertrace.weights.rules import (
    GaiaRules,
    RulesTrace,
    StageSpec,
    StoredCycle,
    WeightRules,
    rules_by_name,
)
from minertrace.weights.submission import (
    U16_MAX,
    Submission,
    normalize_max_weight,
    prepare_submission,
    u16_decode,
    u16_encode,
)
from minertrace.weights.trace import CycleTrace, MinerRecord

__all__ = [
    "PATHWAY_LABELS",
    "TASKS",
    "U16_MAX",
    "CycleInputError",
    "CycleInputs",
    "CycleTrace",
    "GaiaRules",
    "MinerRecord",
    "Node",
    "NodeList",
    "RulesTrace",
    "ScoreRow",
    "StageSpec",
    "StoredCycle",
    "Submission",
    "TaskStage",
    "WeightConfig",
    "WeightRules",
    "compute_cycle",
    "finite_or_null",
    "normalize_max_weight",
    "prepare_submission",
    "rules_by_name",
    "u16_decode",
    "u16_encode",
]
