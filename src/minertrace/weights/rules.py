"""Weight rules as a plug-in: score rows, nodes and a configuration in, a trace of stages out.

Gaia's rules (:func:`~minertrace.weights.engine.compute_cycle`) are one implementation
(:class:`GaiaRules`, the default); the Bittensor subnet template's are another
(:class:`~minertrace.weights.template.TemplateRules`). The rest of minertrace (persistence,
submission, explain, the API) sees only :class:`WeightRules` and :class:`RulesTrace`, whose
member names are those of :class:`~minertrace.weights.trace.CycleTrace`, so a ``CycleTrace``
is a ``RulesTrace`` as it stands.

Rules that carry state from one cycle to the next (the template's moving average) read it from
the previous cycle's stored row, passed in as a :class:`StoredCycle`; every trace also stores
the state it started from, so one cycle can be replayed from its own row
(:meth:`WeightRules.replay_previous`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from minertrace.weights.config import TASKS, WeightConfig
from minertrace.weights.engine import compute_cycle
from minertrace.weights.inputs import CycleInputs, NodeList, ScoreRow
from minertrace.weights.trace import CycleTrace

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

# The scalar every trace's ``scalars()`` carries to say which rules produced it; a stored row
# without it was computed by Gaia's rules (rows written before rules were pluggable).
RULES_SCALAR = "rules"
DEFAULT_RULES = "gaia"


@dataclass(frozen=True)
class StageSpec:
    """One named stage of a rules' trace: the key in ``stage_vectors()`` and a label.

    ``kind`` tells a reader how to show a value: ``number``, ``flag`` (0/1 or bool), ``count``,
    ``pathway`` (a code of ``PATHWAY_LABELS``) or ``u16``.
    """

    name: str
    label: str
    kind: str = "number"


class RulesConfig(Protocol):
    """A rules' configuration: stored on each cycle's row as JSON."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of every field."""
        ...


@runtime_checkable
class RulesTrace(Protocol):
    """What every rules' trace exposes (names as in :class:`CycleTrace`).

    Per-UID vectors have length ``n_uids``. ``final``/``submitted``/``u16`` are None when no
    weights were produced. ``submitted_uids``/``submitted_weights``/``submitted_u16`` are
    aligned; ``emit_uids``/``emit_u16`` are what goes on chain (zeros dropped).
    """

    @property
    def config(self) -> RulesConfig: ...
    @property
    def n_uids(self) -> int: ...
    @property
    def weights_produced(self) -> bool: ...
    @property
    def no_weights_reason(self) -> str | None: ...
    @property
    def rank_based_fallback(self) -> bool: ...
    @property
    def final(self) -> F64 | None: ...
    @property
    def submitted(self) -> F64 | None: ...
    @property
    def u16(self) -> I64 | None: ...
    @property
    def submitted_uids(self) -> I64: ...
    @property
    def submitted_weights(self) -> F64: ...
    @property
    def submitted_u16(self) -> I64: ...
    @property
    def emit_uids(self) -> I64: ...
    @property
    def emit_u16(self) -> I64: ...
    @property
    def encoding_ok(self) -> bool: ...
    @property
    def encoding_error(self) -> str | None: ...
    @property
    def max_weight_limit(self) -> float: ...
    @property
    def min_allowed_weights(self) -> int: ...
    @property
    def rows_used(self) -> list[ScoreRow]: ...

    def stage_vectors(self) -> dict[str, np.ndarray]:
        """Every per-UID stage vector by name (the names of the rules' ``stages``)."""
        ...

    def scalars(self) -> dict[str, Any]:
        """Every scalar the stages used, JSON-safe."""
        ...

    def data_quality(self) -> dict[str, int]:
        """Counters of missing or suspicious entries."""
        ...

    def input_rows(self) -> list[dict[str, Any]]:
        """The score rows used (task_name, task_id, created_at ISO), in query order."""
        ...

    def to_json_dict(self) -> dict[str, Any]:
        """The whole trace as strict JSON."""
        ...


@dataclass(frozen=True)
class StoredCycle:
    """The parts of a stored cycle a rules implementation may carry state from.

    ``stages`` are the row's stage vectors (None entries as NaN), ``scalars`` its scalars and
    ``hotkeys`` the hotkey each UID had when it was computed (None for an empty slot).
    """

    stages: Mapping[str, F64] = field(default_factory=dict)
    scalars: Mapping[str, Any] = field(default_factory=dict)
    hotkeys: Sequence[str | None] = ()

    @classmethod
    def from_row(
        cls, stages: Mapping[str, Any] | None, scalars: Mapping[str, Any] | None
    ) -> StoredCycle:
        """From a weight_submissions row's ``stages`` and ``scalars`` JSON (nulls → NaN)."""
        vectors: dict[str, F64] = {}
        hotkeys: list[str | None] = []
        for name, values in (stages or {}).items():
            if name == "hotkey" and isinstance(values, list):
                hotkeys = [v if isinstance(v, str) else None for v in values]
            elif isinstance(values, list):
                # numpy reads JSON null as NaN in a float array.
                vectors[name] = np.array(values, dtype=np.float64)
        return cls(stages=vectors, scalars=dict(scalars or {}), hotkeys=hotkeys)


@runtime_checkable
class WeightRules(Protocol):
    """An implementation of the weight rules."""

    @property
    def name(self) -> str:
        """Short name, as in the ``weight_rules`` setting and the trace's ``rules`` scalar."""
        ...

    @property
    def stages(self) -> tuple[StageSpec, ...]:
        """The stages of ``stage_vectors()``, in the order a reader shows them."""
        ...

    @property
    def config(self) -> RulesConfig:
        """The configuration in use."""
        ...

    @property
    def stateful(self) -> bool:
        """Whether ``compute`` reads ``previous`` (else the caller need not read it)."""
        ...

    def compute(self, inputs: CycleInputs, previous: StoredCycle | None = None) -> RulesTrace:
        """One cycle. ``previous`` is the validator's previous cycle (None for the first)."""
        ...

    def replay_previous(self, stored: StoredCycle) -> StoredCycle | None:
        """The ``previous`` argument that recomputes the stored cycle ``stored`` exactly."""
        ...


_TASK_STAGES = tuple(
    StageSpec(f"{kind}_{task}", f"{label_task} {label}", k)
    for task, label_task in zip(TASKS, ("weather", "geomagnetic", "soil moisture"), strict=True)
    for kind, label, k in (
        ("score", "score (aggregated)", "number"),
        ("present", "present", "flag"),
        ("rank", "percentile rank", "number"),
        ("qualified", "excellence-qualified", "flag"),
        ("factor", "diversity factor", "number"),
        ("contribution", "diversity contribution", "number"),
    )
)

GAIA_STAGES: tuple[StageSpec, ...] = (
    *_TASK_STAGES,
    StageSpec("soil_completeness", "soil completeness factor"),
    StageSpec("num_active_tasks", "tasks present", "count"),
    StageSpec("excellence", "E (excellence pathway)"),
    StageSpec("diversity", "D (diversity pathway, with bonus)"),
    StageSpec("multi_task_bonus", "multi-task bonus"),
    StageSpec("pathway", "pathway", "pathway"),
    StageSpec("raw_weight", "raw weight max(E, D)"),
    StageSpec("coldkey_group_size", "coldkey group size", "count"),
    StageSpec("coldkey_multiplier", "coldkey multiplier"),
    StageSpec("after_coldkey", "after coldkey smoothing"),
    StageSpec("normalized", "normalised (by the max)"),
    StageSpec("logistic", "logistic curve"),
    StageSpec("transformed", "transformed"),
    StageSpec("final", "final weight"),
    StageSpec("submitted", "submitted weight"),
    StageSpec("u16", "u16 sent to the chain", "u16"),
)


@dataclass(frozen=True)
class GaiaRules:
    """Gaia's rules (spec weights.md): :func:`compute_cycle` unchanged. Stateless."""

    config: WeightConfig = field(default_factory=WeightConfig)
    name: str = DEFAULT_RULES
    stages: tuple[StageSpec, ...] = GAIA_STAGES
    stateful: bool = False

    def compute(self, inputs: CycleInputs, previous: StoredCycle | None = None) -> CycleTrace:
        """:func:`compute_cycle` with this config; ``previous`` is not used."""
        return compute_cycle(inputs, self.config)

    def replay_previous(self, stored: StoredCycle) -> StoredCycle | None:
        """Gaia's rules carry nothing across cycles."""
        return None


RulesFactory = Callable[[Mapping[str, Any] | None], WeightRules]


def _gaia(config: Mapping[str, Any] | None) -> WeightRules:
    return GaiaRules(WeightConfig.from_dict(dict(config)) if config else WeightConfig())


def _template(config: Mapping[str, Any] | None) -> WeightRules:
    # Imported here: the template package imports this module for the protocol.
    from minertrace.weights.template import TemplateConfig, TemplateRules

    return TemplateRules(TemplateConfig.from_dict(dict(config)) if config else TemplateConfig())


RULES: dict[str, RulesFactory] = {"gaia": _gaia, "template": _template}
"""Every rules implementation by name (the values of the ``weight_rules`` setting)."""


def rules_by_name(name: str, config: Mapping[str, Any] | None = None) -> WeightRules:
    """The rules called ``name``, with ``config`` (a stored ``to_dict()``; None = defaults).

    Raises ValueError naming the known rules when ``name`` is not one of them.
    """
    factory = RULES.get(name)
    if factory is None:
        raise ValueError(f"unknown weight rules {name!r}: choose one of {', '.join(sorted(RULES))}")
    return factory(config)


def hotkeys_by_uid(nodes: NodeList, n: int) -> list[str | None]:
    """The node list's hotkey of every UID 0..n-1 (None for an empty slot)."""
    out = np.full(n, None, dtype=object)
    uids = nodes.uids
    inside = uids < n
    out[uids[inside]] = np.asarray(nodes.hotkeys, dtype=object)[inside]
    hotkeys: list[str | None] = out.tolist()
    return hotkeys


def rules_name(scalars: Mapping[str, Any] | None) -> str:
    """Which rules produced a stored cycle, from its ``scalars`` (Gaia's when not said).

    The name may be one outside :data:`RULES`: a validator's own rules, recorded through
    ``minertrace.recorder`` (``custom`` unless it named them).
    """
    value = (scalars or {}).get(RULES_SCALAR)
    return value if isinstance(value, str) and value else DEFAULT_RULES


def stage_specs(name: str) -> tuple[StageSpec, ...]:
    """The stages of the rules called ``name`` (for a reader of stored cycles)."""
    return rules_by_name(name).stages


__all__ = [
    "DEFAULT_RULES",
    "GAIA_STAGES",
    "RULES",
    "RULES_SCALAR",
    "GaiaRules",
    "RulesConfig",
    "RulesFactory",
    "RulesTrace",
    "StageSpec",
    "StoredCycle",
    "WeightRules",
    "hotkeys_by_uid",
    "rules_by_name",
    "rules_name",
    "stage_specs",
]
