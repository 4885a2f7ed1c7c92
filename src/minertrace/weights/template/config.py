"""`TemplateConfig`: the settings of the Bittensor subnet template's weight rules."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

U16_MAX = 65535


@dataclass(frozen=True)
class TemplateConfig:
    """The template validator's knobs, with its defaults.

    ``moving_average_alpha`` is the template's ``--neuron.moving_average_alpha`` (0.1): each
    reward row moves a UID's score by that fraction. ``exclude_quantile`` is the SDK's
    ``process_weights_for_netuid`` argument, on the u16 scale (0 = exclude nothing; 65535 =
    exclude everything the subnet's ``min_allowed_weights`` lets go).
    """

    moving_average_alpha: float = 0.1
    exclude_quantile: int = 0
    enable_detailed_pathways: bool = True

    def __post_init__(self) -> None:
        alpha = self.moving_average_alpha
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
            raise ValueError("TemplateConfig.moving_average_alpha must be a number")
        if not math.isfinite(alpha) or not 0 <= alpha <= 1:
            raise ValueError("TemplateConfig.moving_average_alpha must lie in [0, 1]")
        q = self.exclude_quantile
        if isinstance(q, bool) or not isinstance(q, int) or not 0 <= q <= U16_MAX:
            raise ValueError(f"TemplateConfig.exclude_quantile must be an integer in 0..{U16_MAX}")
        if not isinstance(self.enable_detailed_pathways, bool):
            raise ValueError("TemplateConfig.enable_detailed_pathways must be a bool")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TemplateConfig:
        """Rebuild from :meth:`to_dict` output; unknown keys are rejected."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"TemplateConfig: unknown field(s) {', '.join(unknown)}")
        return cls(**data)
