"""Property tests (hypothesis) of compute_cycle over random networks."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from minertrace.weights import compute_cycle, u16_decode
from tests.helpers.weights import make_inputs

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

score = st.one_of(st.none(), st.floats(0.01, 1.0), st.just(0.0))


@st.composite
def network(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(2, 24))
    row = st.lists(score, min_size=n, max_size=n)
    return {
        "n": n,
        "weather": draw(st.lists(row, max_size=2)),
        "geo": draw(st.lists(row, max_size=3)),
        "soil": draw(st.lists(row, max_size=4)),
        "registered": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        "validators": draw(st.lists(st.integers(0, n - 1), max_size=3)),
        "coldkeys": draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)),
    }


def build(net: dict[str, Any], perm: list[int] | None = None) -> Any:
    n = net["n"]
    perm = perm or list(range(n))

    def p(rows: list[list[Any]]) -> list[list[Any]]:
        return [[r[perm[u]] for u in range(n)] for r in rows]

    nodes = [
        (u, f"h{perm[u]}", f"c{net['coldkeys'][perm[u]]}")
        for u in range(n)
        if net["registered"][perm[u]]
    ]
    inverse = {perm[u]: u for u in range(n)}
    return make_inputs(
        weather=p(net["weather"]),
        geo=p(net["geo"]),
        soil=p(net["soil"]),
        nodes=nodes,
        n_uids=n,
        active_validator_uids=[inverse[v] for v in net["validators"]],
    )


@SETTINGS
@given(network())
def test_weights_nonnegative_sum_to_one_and_submission_rules(net: dict[str, Any]) -> None:
    trace = compute_cycle(build(net))
    present = trace.has_record
    assert np.all(trace.raw_weight[~present] == 0)
    assert set((trace.miners or {}).keys()) == set(np.flatnonzero(present).tolist())
    # Independent of has_record: a UID whose every entry is null or 0.0 has no present task
    # (spec 5.1), so it has no record and weight 0 at every stage.
    rows = net["weather"] + net["geo"] + net["soil"]
    absent = np.array([all(not r[u] for r in rows) for u in range(net["n"])])
    assert not np.any(present[absent])
    assert not (set((trace.miners or {}).keys()) & set(np.flatnonzero(absent).tolist()))
    assert np.all(trace.raw_weight[absent] == 0)
    if not trace.weights_produced:
        assert trace.final is None and trace.no_weights_reason
        return
    assert trace.final is not None and trace.submitted is not None
    assert np.all(trace.final >= 0)
    assert math.isclose(float(trace.final.sum()), 1.0, rel_tol=1e-12)
    assert np.all(trace.final[~present] == 0)
    assert np.all(trace.submitted[absent] == 0)
    registered = np.array(net["registered"])
    assert np.all(trace.submitted[~registered] == 0)
    assert np.all(trace.submitted[net["validators"]] == 0)
    if trace.submitted.sum() > 0:
        assert math.isclose(float(trace.submitted.sum()), 1.0, rel_tol=1e-12)
        # u16 values decode to within 1/65535 of the max-normalised submitted weights
        # (round-to-nearest: within half a unit).
        scale = trace.chain_weights.max()
        error = np.abs(trace.submitted_u16 / 65535 - trace.chain_weights / scale)
        assert np.all(error <= 0.5 / 65535 + 1e-12)
        assert np.array_equal(trace.submitted_u16 > 0, trace.chain_weights / scale >= 0.5 / 65535)
        # The limit is 1 here, so the same holds against the submitted weights themselves.
        sent = trace.submitted[trace.submitted_uids]
        error = np.abs(trace.submitted_u16 / 65535 - sent / sent.max())
        assert np.all(error <= 0.5 / 65535 + 1e-12)
        decoded = u16_decode(trace.emit_u16)
        assert math.isclose(float(decoded.sum()), 1.0, rel_tol=1e-12)


@SETTINGS
@given(network(), st.randoms(use_true_random=False))
def test_permuting_uids_permutes_outputs(net: dict[str, Any], rnd: Any) -> None:
    n = net["n"]
    base = compute_cycle(build(net))
    assume(base.weights_produced)
    positive = base.after_coldkey[base.after_coldkey > 0]
    assume(len(np.unique(positive)) == len(positive))  # no ties (D3 would break them by UID)
    perm = list(range(n))
    rnd.shuffle(perm)
    moved = compute_cycle(build(net, perm))
    idx = np.array(perm)
    assert moved.weights_produced
    for name in ("raw_weight", "after_coldkey", "final", "submitted"):
        a = getattr(moved, name)
        b = getattr(base, name)[idx]
        assert np.allclose(a, b, rtol=1e-9, atol=1e-15), name
    assert np.array_equal(moved.pathway, base.pathway[idx])


garbage = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**30), 10**30),
    st.text(max_size=3),
    st.booleans(),
    st.lists(st.floats(), max_size=2),
    st.just({"a": 1}),
)


@SETTINGS
@given(
    st.integers(1, 12).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.one_of(st.lists(garbage, min_size=n, max_size=n), garbage), max_size=3),
            st.lists(st.lists(garbage, min_size=n, max_size=n), max_size=3),
            st.lists(
                st.one_of(st.lists(garbage, min_size=0, max_size=n + 1), st.none()), max_size=3
            ),
        )
    )
)
def test_random_garbage_never_raises(data: tuple[int, list[Any], list[Any], list[Any]]) -> None:
    n, weather, geo, soil = data
    trace = compute_cycle(make_inputs(weather=weather, geo=geo, soil=soil, n_uids=n))
    assert trace.n_uids == n
    if trace.final is not None:
        assert np.all(trace.final >= 0)
        assert math.isclose(float(trace.final.sum()), 1.0, rel_tol=1e-12)
    assert trace.weights_produced == (trace.final is not None)
    # The conformance object is strict JSON: no numpy values, and no NaN or Infinity.
    json.dumps(trace.to_json_dict(), allow_nan=False)
    dq = trace.data_quality()
    assert all(isinstance(v, int) and v >= 0 for v in dq.values())
    # Entries of the geomagnetic rows (all of width n) are counted where they are missing.
    nulls = sum(v is None for row in geo for v in row)
    assert dq["missing_null"] >= nulls


@SETTINGS
@given(network())
def test_json_records_equal_the_records_conformance_dicts(net: dict[str, Any]) -> None:
    # to_json_dict builds its per-miner records from the vectors, not through `miners`.
    trace = compute_cycle(build(net))
    fresh = trace.to_json_dict()["miners"]
    expected = {str(uid): rec.conformance_dict() for uid, rec in (trace.miners or {}).items()}
    assert json.dumps(fresh) == json.dumps(expected)
    # Every container is the document's own: changing it leaves the cached records alone.
    for uid, record in trace.to_json_dict()["miners"].items():
        record["pathway_details"]["excellence_qualified_tasks"].append("x")
        record["pathway_details"]["percentile_ranks"]["x"] = 1.0
        cached = (trace.miners or {})[int(uid)]
        assert "x" not in cached.pathway_details["excellence_qualified_tasks"]
        assert "x" not in cached.pathway_details["percentile_ranks"]
