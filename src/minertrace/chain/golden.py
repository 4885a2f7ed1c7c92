"""Run Yuma over a `yuma-golden/1` file: all its epochs, carrying bonds and permits.

The format is described in `tests/data/conformance/yuma/README.md`: epoch 0 uses the file's
`validator_permit`; epoch t > 0 uses the `new_validator_permit` computed in epoch t-1; bonds
start at zero and each epoch starts from the bonds the previous one produced; an epoch may
override `stake`; `current_block`, `last_update`, ... (when present) give the liveness masks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minertrace.chain.golden_input import GoldenFormatError as GoldenFormatError
from minertrace.chain.golden_input import check_document
from minertrace.chain.yuma import EpochResult, Liveness, YumaParams, epoch
from minertrace.weights.jsonsafe import finite_or_null

FORMAT = "yuma-golden/1"

VECTOR_FIELDS: tuple[str, ...] = (
    "validator_permit",
    "new_validator_permit",
    "stake_normalized",
    "active_stake",
    "consensus",
    "validator_trust",
    "incentive",
    "dividends",
    "rank",
    "trust",
    "rank_raw",
    "prerank",
    "server_emission_share",
    "validator_emission_share",
)
"""The per-UID fields of an `expected` entry (plus `bonds`, a sparse [i, j, v] list)."""


@dataclass(frozen=True, slots=True)
class GoldenRun:
    """A golden document's parameters and the results of running all its epochs."""

    name: str
    params: YumaParams
    results: list[EpochResult]


def load(path: str | Path) -> dict[str, Any]:
    """Read and minimally validate a `yuma-golden/1` file."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise GoldenFormatError(f"{path}: not JSON ({exc})") from None
    except UnicodeDecodeError:
        raise GoldenFormatError(f"{path}: not UTF-8 text") from None
    except RecursionError:
        raise GoldenFormatError(f"{path}: the JSON nests too deeply") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise GoldenFormatError(f"{path}: expected format {FORMAT!r}")
    for key in ("params", "stake", "validator_permit", "epochs"):
        if key not in doc:
            raise GoldenFormatError(f"{path}: missing {key!r}")
    return doc


def params_of(doc: dict[str, Any]) -> YumaParams:
    """The `YumaParams` a golden document's `params` describe."""
    # A null parameter takes its default (owner_uid: null is "no owner").
    p = {k: v for k, v in doc["params"].items() if v is not None}
    penalty = p.get("bonds_penalty")
    if penalty is None:
        penalty = p.get("bonds_penalty_u16", 65535) / 65535
    owner = p.get("owner_uid")
    return YumaParams(
        kappa=float(p.get("kappa", p.get("kappa_u16", 32767) / 65535)),
        bonds_moving_average=float(p.get("bonds_moving_average", 900_000)),
        bonds_penalty=float(penalty),
        yuma3=p.get("yuma_version", "yuma2") == "yuma3",
        max_allowed_validators=int(p.get("max_allowed_validators", 64)),
        stake_threshold=float(p.get("stake_threshold") or 0.0),
        owner_uid=None if owner is None else int(owner),
    )


def _liveness(doc: dict[str, Any], ep: dict[str, Any]) -> Liveness | None:
    if "current_block" not in ep:
        return None
    p = doc["params"]
    last = ep.get("last_mechanism_step_block")
    return Liveness(
        current_block=int(ep["current_block"]),
        last_update=np.asarray(ep["last_update"], dtype=np.int64),
        block_at_registration=np.asarray(ep["block_at_registration"], dtype=np.int64),
        activity_cutoff=int(p.get("activity_cutoff_blocks") or 5000),
        last_epoch_block=None if last is None else int(last),
        tempo=int(p.get("tempo") or 360),
    )


def run(doc: dict[str, Any]) -> GoldenRun:
    """Run every epoch of `doc`, carrying bonds and permits from one epoch to the next.

    The document is checked first (`check_document`): a bad field raises `GoldenFormatError`.
    """
    check_document(doc)
    params = params_of(doc)
    stake = np.asarray(doc["stake"], dtype=np.float64)
    n = stake.size
    permit = np.asarray(doc["validator_permit"], dtype=np.bool_)
    bonds: np.ndarray[Any, np.dtype[np.float64]] | None = None
    results: list[EpochResult] = []
    for t, ep in enumerate(doc["epochs"]):
        if "stake" in ep:
            stake = np.asarray(ep["stake"], dtype=np.float64)
        w = np.asarray(ep["W"], dtype=np.float64)
        if w.shape != (n, n) or stake.size != n:
            raise GoldenFormatError(f"epoch {t}: expected {n} x {n} weights and {n} stakes")
        res = epoch(stake, w, permit, bonds, params, _liveness(doc, ep))
        results.append(res)
        permit = res.new_validator_permit
        bonds = res.bonds
    return GoldenRun(name=str(doc.get("name", "")), params=params, results=results)


def sparse_bonds(bonds: np.ndarray[Any, np.dtype[np.float64]]) -> list[list[float]]:
    """Non-zero bonds as `[i, j, value]` triples (row-major)."""
    ij = np.argwhere(bonds != 0.0)
    return [[int(i), int(j), float(bonds[i, j])] for i, j in ij]


def dense_bonds(triples: list[list[float]], n: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The n x n matrix of sparse `[i, j, value]` triples."""
    out = np.zeros((n, n), dtype=np.float64)
    if triples:
        arr = np.asarray(triples, dtype=np.float64)
        out[arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64)] = arr[:, 2]
    return out


def result_to_json(res: EpochResult) -> dict[str, Any]:
    """An epoch's result with the field names of the golden files' `expected` (strict JSON)."""
    out: dict[str, Any] = {name: finite_or_null(getattr(res, name)) for name in VECTOR_FIELDS}
    out["bonds"] = sparse_bonds(res.bonds)
    return out
