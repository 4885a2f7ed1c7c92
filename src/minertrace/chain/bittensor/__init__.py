"""The real chain through the bittensor SDK (the `bittensor` extra).

Importing this package imports the SDK; the rest of `minertrace.chain` never does.
"""

from minertrace.chain.bittensor.chain import BittensorChain, load_wallet

__all__ = ["BittensorChain", "load_wallet"]
