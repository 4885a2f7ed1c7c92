"""`SimulatedSubnet`: a LocalChain populated with simulated miners and peer validators, plus
the score rows those miners earn as simulated time passes.

Layout of the chain it builds: UID 0 the subnet owner, UID 1 the validator minertrace runs
for (`validator_hotkey`, the largest stake), then the peer validators (kinds honest, copier,
stale, self_dealer in turn), then the miners. Everything is derived from `seed`.

`step(engine, now)` writes every score row due since the previous step (one statement,
`record_score_rows`), fires the scheduled events that are due (a hotkey replacement, an
injected rejection, ...) and keeps the chain's miner quality (what honest peers see) in line
with who is still answering. The first step also writes `history` worth of past rows, so the
first weight cycle has data to work on, as a validator that has been running would.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine

from minertrace.chain.local.chain import DEFAULT_GENESIS, LocalChain
from minertrace.chain.local.peers import PeerKind
from minertrace.chain.types import ChainError, SubnetHyperparameters
from minertrace.chain.yuma import YumaParams
from minertrace.sim.population import Population, make_population
from minertrace.sim.tasks import TaskRun, run_rng, run_scores, runs_between
from minertrace.store import ScoreRow, record_score_rows

logger = logging.getLogger(__name__)

SIM_FORMAT = "minertrace-sim/1"
DEFAULT_VALIDATOR_HOTKEY = "minertrace-validator"
VALIDATOR_STAKE = 2000.0
PEER_KINDS = (PeerKind.HONEST, PeerKind.COPIER, PeerKind.STALE, PeerKind.SELF_DEALER)
PEER_STAKES = {
    PeerKind.HONEST: 1500.0,
    PeerKind.COPIER: 800.0,
    PeerKind.STALE: 500.0,
    PeerKind.SELF_DEALER: 300.0,
}


@dataclass(frozen=True)
class SimParams:
    """Everything a simulated subnet is rebuilt from (kept in the snapshot file)."""

    n_miners: int = 64
    n_validators: int = 4
    seed: int = 0
    duration_seconds: float = 2 * 86400.0
    n_regions: int = 3
    history_seconds: float = 86400.0
    validator_hotkey: str = DEFAULT_VALIDATOR_HOTKEY

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass
class SimEvent:
    """Something that happens once, `at_seconds` after the start."""

    at_seconds: float
    description: str
    action: Callable[[datetime], str]
    fired: bool = False


@dataclass(frozen=True)
class StepReport:
    """What one `step` did."""

    rows_written: int
    events: list[str] = field(default_factory=list)


class SimulatedSubnet:
    """Simulated miners and peers on a `LocalChain` (see the module doc)."""

    def __init__(
        self,
        chain: LocalChain,
        population: Population,
        miner_uids: list[int],
        params: SimParams,
        start: datetime,
        *,
        written_until: datetime | None = None,
        replacements: int = 0,
    ) -> None:
        self.chain = chain
        self.population = population
        self.miner_uids = np.asarray(miner_uids, dtype=np.int64)
        self.params = params
        self.start = start
        self.validator_hotkey = params.validator_hotkey
        self._written_until = written_until
        self._replacements = replacements
        self._events: list[SimEvent] = []
        self._rng = np.random.default_rng([abs(params.seed), 0xE7])

    # ---------------------------------------------------------------- construction

    @classmethod
    def create(
        cls,
        params: SimParams | None = None,
        *,
        hyperparameters: SubnetHyperparameters | None = None,
        genesis_time: datetime = DEFAULT_GENESIS,
        **overrides: Any,
    ) -> SimulatedSubnet:
        """A fresh subnet: owner, our validator, peers, miners; permits granted at once."""
        p = params or SimParams(**overrides)
        if p.n_validators < 0:
            raise ValueError("n_validators must be >= 0")
        population = make_population(p.n_miners, p.seed, p.duration_seconds)
        n_total = 2 + p.n_validators + p.n_miners
        chain = LocalChain(
            max_uids=n_total,
            seed=p.seed,
            hyperparameters=hyperparameters,
            # Permits go only to staked hotkeys; miners hold no stake, so this is enough.
            yuma=YumaParams(max_allowed_validators=max(8, p.n_validators + 2)),
            genesis_time=genesis_time,
        )
        chain.register(p.validator_hotkey, f"{p.validator_hotkey}-coldkey", VALIDATOR_STAKE)
        first_miner = chain.n + p.n_validators
        cluster_uids = [first_miner + i for i in np.flatnonzero(population.cluster == 0).tolist()]
        for i in range(p.n_validators):
            kind = PEER_KINDS[i % len(PEER_KINDS)]
            targets = cluster_uids if kind is PeerKind.SELF_DEALER else ()
            chain.add_peer(
                kind,
                f"peer-{kind.value}-{i}",
                PEER_STAKES[kind] * (0.9 ** (i // len(PEER_KINDS))),
                targets=targets or [first_miner],
            )
        uids = chain.register_many(population.hotkeys, population.coldkeys)
        chain.refresh_permits()
        sim = cls(chain, population, uids, p, chain.clock.now())
        sim.sync_quality(sim.start)
        return sim

    # ---------------------------------------------------------------- snapshot

    def to_json(self) -> str:
        """Chain and simulator state as one JSON document (see `from_json`)."""
        return json.dumps(
            {
                "format": SIM_FORMAT,
                "params": self.params.to_json(),
                "start": self.start.isoformat(),
                "written_until": None
                if self._written_until is None
                else self._written_until.isoformat(),
                "replacements": self._replacements,
                "population": {
                    "hotkeys": self.population.hotkeys,
                    "coldkeys": self.population.coldkeys,
                    "skill": self.population.skill.tolist(),
                    "participates": self.population.participates.tolist(),
                    "fail_rate": self.population.fail_rate.tolist(),
                    "dropout_at": [
                        None if not np.isfinite(d) else d
                        for d in self.population.dropout_at.tolist()
                    ],
                    "cluster": self.population.cluster.tolist(),
                },
                "miner_uids": self.miner_uids.tolist(),
                "chain": json.loads(self.chain.to_json()),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> SimulatedSubnet:
        """Restore a subnet saved by `to_json`."""
        doc = json.loads(text)
        if doc.get("format") != SIM_FORMAT:
            raise ValueError(f"not a {SIM_FORMAT} snapshot")
        pd = doc["population"]
        population = Population(
            hotkeys=list(pd["hotkeys"]),
            coldkeys=list(pd["coldkeys"]),
            skill=np.asarray(pd["skill"], dtype=np.float64),
            participates=np.asarray(pd["participates"], dtype=np.bool_),
            fail_rate=np.asarray(pd["fail_rate"], dtype=np.float64),
            dropout_at=np.asarray(
                [np.inf if d is None else d for d in pd["dropout_at"]], dtype=np.float64
            ),
            cluster=np.asarray(pd["cluster"], dtype=np.int64),
        )
        chain = LocalChain.from_json(json.dumps(doc["chain"]))
        written = doc["written_until"]
        return cls(
            chain,
            population,
            list(doc["miner_uids"]),
            SimParams(**doc["params"]),
            datetime.fromisoformat(doc["start"]),
            written_until=None if written is None else datetime.fromisoformat(written),
            replacements=int(doc["replacements"]),
        )

    # ---------------------------------------------------------------- time

    def elapsed(self, now: datetime) -> float:
        """Seconds since the start of the simulation."""
        return (now - self.start).total_seconds()

    def sync_quality(self, now: datetime) -> None:
        """Tell the chain the miners' true quality (what honest peers observe)."""
        quality = np.zeros(self.chain.n)
        quality[self.miner_uids] = self.population.quality(self.elapsed(now))
        self.chain.set_miner_quality(quality)

    def due_runs(self, now: datetime) -> list[TaskRun]:
        """Task runs due since the last step, up to and including `now`."""
        since = self._written_until or (self.start - timedelta(seconds=self.params.history_seconds))
        return runs_between(since, now + timedelta(microseconds=1), self.params.n_regions)

    def scores_for(self, run: TaskRun) -> np.ndarray:
        """The per-UID score array of `run` (length: the chain's UID count)."""
        per_miner = run_scores(
            self.population,
            run,
            self.elapsed(run.at),
            run_rng(self.params.seed, run),
        )
        out = np.full(self.chain.n, np.nan)
        out[self.miner_uids] = per_miner
        return out

    def step(self, engine: Engine, now: datetime) -> StepReport:
        """Fire due events, write due score rows (one statement), update miner quality."""
        fired = [self._fire(e, now) for e in self._events if not e.fired]
        events = [f for f in fired if f]
        runs = self.due_runs(now)
        if runs:
            rows = [
                ScoreRow(run.task_name, run.task_id, self.scores_for(run), run.at, run.status)
                for run in runs
            ]
            record_score_rows(engine, rows, n_uids=self.chain.n)
        self._written_until = now + timedelta(microseconds=1)
        self.sync_quality(now)
        return StepReport(rows_written=len(runs), events=events)

    def _fire(self, event: SimEvent, now: datetime) -> str | None:
        if self.elapsed(now) < event.at_seconds:
            return None
        event.fired = True
        message = event.action(now)
        logger.info("simulation event: %s", message)
        return message

    # ---------------------------------------------------------------- events

    def schedule(
        self, at_seconds: float, description: str, action: Callable[[datetime], str]
    ) -> None:
        """Run `action(now)` at the first step at least `at_seconds` after the start."""
        self._events.append(SimEvent(at_seconds, description, action))

    @property
    def events(self) -> list[SimEvent]:
        """The scheduled events, fired or not."""
        return list(self._events)

    def replace_miner(self, miner: int, now: datetime) -> str:
        """Deregister miner `miner`'s hotkey and register a new miner on its UID."""
        uid = int(self.miner_uids[miner])
        old = self.population.hotkeys[miner]
        self._replacements += 1
        new = f"{old}-r{self._replacements}"
        self.chain.replace_hotkey(uid, new, f"{new}-coldkey")
        self.population.replace(miner, new, f"{new}-coldkey", self._rng)
        self.population.dropout_at[miner] = np.inf
        self.sync_quality(now)
        return f"uid {uid}: hotkey {old} replaced by {new}"

    def reject_next_submission(self, now: datetime) -> str:
        """Make the chain reject the next weight submission once."""
        self.chain.inject_rejections(1, ChainError.OTHER)
        return "the chain will reject the next weight submission once"

    def plan_demo_events(self) -> None:
        """The demo's scripted events: one hotkey replacement, one rejected submission."""
        duration = self.params.duration_seconds
        independent = np.flatnonzero(
            (self.population.cluster < 0) & np.isinf(self.population.dropout_at)
        )
        if independent.size:
            victim = int(independent[len(independent) // 2])
            uid = int(self.miner_uids[victim])
            self.schedule(
                0.4 * duration,
                f"hotkey replacement on uid {uid}",
                lambda now: self.replace_miner(victim, now),
            )
        self.schedule(0.6 * duration, "one rejected submission", self.reject_next_submission)
