"""The in-process subnet: registration, validators, tempo and epochs, commit-reveal, faults."""

from minertrace.chain.local.chain import DEFAULT_GENESIS, LocalChain
from minertrace.chain.local.commits import Commit
from minertrace.chain.local.peers import PeerKind
from minertrace.chain.local.simclock import SimClock
from minertrace.chain.local.snapshot import SNAPSHOT_FORMAT

__all__ = ["DEFAULT_GENESIS", "SNAPSHOT_FORMAT", "Commit", "LocalChain", "PeerKind", "SimClock"]
