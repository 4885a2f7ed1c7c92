"""The Bittensor subnet template's weight rules: a moving average of rewards per UID, the
SDK's ``process_weights_for_netuid`` limits and its u16 encoding. Pure numpy.
"""

from minertrace.weights.template.config import TemplateConfig
from minertrace.weights.template.ema import carried_scores, fold, hotkey_resets, row_key
from minertrace.weights.template.limits import Processed, normalize_max_weight, process_weights
from minertrace.weights.template.rules import TEMPLATE_STAGES, TemplateRules
from minertrace.weights.template.trace import TemplateTrace

__all__ = [
    "TEMPLATE_STAGES",
    "Processed",
    "TemplateConfig",
    "TemplateRules",
    "TemplateTrace",
    "carried_scores",
    "fold",
    "hotkey_resets",
    "normalize_max_weight",
    "process_weights",
    "row_key",
]
