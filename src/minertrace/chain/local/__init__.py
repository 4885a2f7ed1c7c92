"""The in-process subnet: registration, validators, tempo and epochs, commit-reveal, faults."""

from minertrace.chain.local.chain import DEFAULT_GENESIS, LocalChain
from minertrace.chain.local.peers import PeerKind

__all__ = ["DEFAULT_GENESIS", "LocalChain", "PeerKind"]
