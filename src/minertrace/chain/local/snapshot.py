"""The `minertrace-localchain/1` snapshot: a whole `LocalChain` as one JSON document.

The format is a contract with saved files (the demo resumes a subnet from one), so keys and
value types only ever grow. Weights and bonds are stored sparse as `[row, col, value]`.
The reorg journal is not saved: a restored chain cannot reorg below its restore height.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

import numpy as np

from minertrace.chain.local.blocks import BlockLog
from minertrace.chain.local.commits import Commit, CommitBook
from minertrace.chain.local.epochs import EpochState
from minertrace.chain.local.faults import Fault
from minertrace.chain.local.neurons import NeuronTable
from minertrace.chain.local.peers import Peer
from minertrace.chain.types import SubnetHyperparameters
from minertrace.chain.yuma import YumaParams

SNAPSHOT_FORMAT = "minertrace-localchain/1"


@dataclasses.dataclass(frozen=True, slots=True)
class ChainConfig:
    """The constructor arguments of a `LocalChain` (everything but the owner's keys)."""

    netuid: int
    max_uids: int
    seed: int
    genesis_time: datetime
    emission_per_block: float
    immunity_period: int
    max_reorg_depth: int
    hyperparameters: SubnetHyperparameters
    yuma: YumaParams


@dataclasses.dataclass(slots=True)
class ChainState:
    """Everything a `LocalChain` holds besides its configuration."""

    owner_uid: int | None
    neurons: NeuronTable
    blocks: BlockLog
    epochs: EpochState
    commits: CommitBook
    peers: dict[int, Peer]
    faults: list[Fault]


def dump(config: ChainConfig, state: ChainState) -> str:
    """The snapshot document of a chain, as JSON text with sorted keys."""
    t = state.neurons
    n = t.n
    w = t.weights[:n, :n]
    wij = np.argwhere(w)
    b = t.bonds[:n, :n]
    bij = np.argwhere(b)
    lc = state.epochs.last_consensus
    doc: dict[str, Any] = {
        "format": SNAPSHOT_FORMAT,
        "config": {
            "netuid": config.netuid,
            "max_uids": config.max_uids,
            "seed": config.seed,
            "genesis_time": config.genesis_time.isoformat(),
            "emission_per_block": config.emission_per_block,
            "immunity_period": config.immunity_period,
            "max_reorg_depth": config.max_reorg_depth,
            "hyperparameters": dataclasses.asdict(config.hyperparameters),
            "yuma": dataclasses.asdict(config.yuma),
        },
        "height": state.blocks.height,
        "last_epoch_block": state.epochs.last_block,
        "epoch_count": state.epochs.count,
        "owner_uid": state.owner_uid,
        "forks": {str(k): v for k, v in sorted(state.blocks.forks.items())},
        "neurons": {
            "hotkey": t.hotkeys,
            "coldkey": t.coldkeys,
            "axon_ip": t.axon_ip,
            "axon_port": t.axon_port,
            "stake": t.stake[:n].tolist(),
            "validator_permit": t.permit[:n].tolist(),
            "active": t.active[:n].tolist(),
            "last_update": t.last_update[:n].tolist(),
            "block_at_registration": t.registered_at[:n].tolist(),
            "quality": t.quality[:n].tolist(),
            **{k: v[:n].tolist() for k, v in t.out.items()},
        },
        "weights": [[int(i), int(j), int(w[i, j])] for i, j in wij],
        "bonds": [[int(i), int(j), float(b[i, j])] for i, j in bij],
        "commits": [c.to_json() for c in state.commits.items],
        "next_commit_id": state.commits.next_id,
        "peers": [p.to_json() for _, p in sorted(state.peers.items())],
        "faults": [f.to_json() for f in state.faults],
        "last_consensus": None if lc is None else lc.tolist(),
    }
    return json.dumps(doc, sort_keys=True)


def load(text: str) -> tuple[ChainConfig, ChainState]:
    """Parse a snapshot written by `dump`; ValueError if it is not one."""
    doc = json.loads(text)
    if not isinstance(doc, dict) or doc.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"not a {SNAPSHOT_FORMAT} snapshot")
    cfg = doc["config"]
    config = ChainConfig(
        netuid=cfg["netuid"],
        max_uids=cfg["max_uids"],
        seed=cfg["seed"],
        genesis_time=datetime.fromisoformat(cfg["genesis_time"]),
        emission_per_block=cfg["emission_per_block"],
        immunity_period=cfg["immunity_period"],
        max_reorg_depth=cfg["max_reorg_depth"],
        hyperparameters=SubnetHyperparameters(**cfg["hyperparameters"]),
        yuma=YumaParams(**cfg["yuma"]),
    )
    lc = doc["last_consensus"]
    state = ChainState(
        owner_uid=doc["owner_uid"],
        neurons=_load_neurons(config.max_uids, doc),
        blocks=BlockLog(
            seed=config.seed,
            netuid=config.netuid,
            max_reorg_depth=config.max_reorg_depth,
            height=int(doc["height"]),
            forks={int(k): int(v) for k, v in doc["forks"].items()},
        ),
        epochs=EpochState(
            last_block=int(doc["last_epoch_block"]),
            count=int(doc["epoch_count"]),
            last_consensus=None if lc is None else np.asarray(lc, dtype=np.float64),
        ),
        commits=CommitBook(
            [Commit.from_json(c) for c in doc["commits"]], int(doc["next_commit_id"])
        ),
        peers={p.uid: p for p in (Peer.from_json(d) for d in doc["peers"])},
        faults=[Fault.from_json(f) for f in doc["faults"]],
    )
    return config, state


def _load_neurons(capacity: int, doc: dict[str, Any]) -> NeuronTable:
    nd = doc["neurons"]
    t = NeuronTable(capacity)
    t.restore_keys(nd["hotkey"], nd["coldkey"])
    n = t.n
    t.axon_ip = list(nd["axon_ip"])
    t.axon_port = [int(p) for p in nd["axon_port"]]
    t.stake[:n] = nd["stake"]
    t.permit[:n] = nd["validator_permit"]
    t.active[:n] = nd["active"]
    t.last_update[:n] = nd["last_update"]
    t.registered_at[:n] = nd["block_at_registration"]
    t.quality[:n] = nd["quality"]
    for k, v in t.out.items():
        v[:n] = nd[k]
    if doc["weights"]:
        w = np.asarray(doc["weights"], dtype=np.int64)
        t.weights[w[:, 0], w[:, 1]] = w[:, 2].astype(np.uint16)
    if doc["bonds"]:
        b = np.asarray(doc["bonds"], dtype=np.float64)
        t.bonds[b[:, 0].astype(np.int64), b[:, 1].astype(np.int64)] = b[:, 2]
    return t
