"""Pure translations between the bittensor SDK's shapes and minertrace's chain types.

No I/O and no SDK import here: `BittensorChain` fetches, these functions map, so they can
be read (and tested) without the SDK or a chain.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from minertrace.chain.types import ChainError, NeuronInfo

U16_MAX = 65535
RAO_PER_UNIT = 1_000_000_000

# Chain error names that are not members of `ChainError` but mean the same thing.
_NAME_ALIASES: dict[str, ChainError] = {
    "HotKeyNotRegisteredInNetwork": ChainError.HOTKEY_NOT_REGISTERED,
    "HotKeyAccountNotExists": ChainError.HOTKEY_NOT_REGISTERED,
    "CommittingWeightsTooFast": ChainError.RATE_LIMIT,
    "RateLimitExceeded": ChainError.RATE_LIMIT,
    "UidsLengthExceedUidsInSubNet": ChainError.INVALID_UID,
    "FinalityTimeout": ChainError.TIMEOUT,
}

# The SDK raises some of its client-side preflight failures without a chain error name,
# only with a semantic code (bittensor.ErrorCode values); these codes are unambiguous for
# a weight submission.
_CODE_MEANING: dict[str, ChainError] = {
    "not_registered": ChainError.HOTKEY_NOT_REGISTERED,
    "rate_limited": ChainError.RATE_LIMIT,
    "not_authorized": ChainError.NO_VALIDATOR_PERMIT,
}


def chain_error_of(name: str | None, code: str | None) -> ChainError:
    """The `ChainError` for an SDK error's chain name, else its semantic code."""
    if name:
        try:
            return ChainError(name)
        except ValueError:
            pass
        if name in _NAME_ALIASES:
            return _NAME_ALIASES[name]
    if code in _CODE_MEANING:
        return _CODE_MEANING[code]
    return ChainError.OTHER


def u16_fraction(raw: Any) -> float:
    """A chain u16 fraction (0..65535) as a float in [0, 1]."""
    return int(raw or 0) / U16_MAX


def axon_endpoint(axon: Mapping[str, Any] | None) -> tuple[str, int]:
    """(ip, port) of a decoded `AxonInfo`; the chain holds the ip as an integer."""
    if not axon:
        return "0.0.0.0", 0
    ip = int(axon.get("ip") or 0)
    port = int(axon.get("port") or 0)
    if int(axon.get("ip_type") or 4) == 6:
        return str(ipaddress.IPv6Address(ip)), port
    return str(ipaddress.IPv4Address(ip)), port


def neuron_from_record(record: Mapping[str, Any], block_at_registration: int) -> NeuronInfo:
    """Map one decoded `NeuronInfoLite` runtime record to `NeuronInfo`.

    Stake and emission arrive in rao of the subnet's token and are converted to whole
    units; the score fields arrive as u16 fractions. `NeuronInfoLite` does not carry the
    registration block, so the caller passes it from `BlockAtRegistration`.
    """
    stake_rao = sum(int(amount) for _, amount in record.get("stake") or [])
    ip, port = axon_endpoint(record.get("axon_info"))
    return NeuronInfo(
        uid=int(record["uid"]),
        hotkey=str(record["hotkey"]),
        coldkey=str(record["coldkey"]),
        stake=stake_rao / RAO_PER_UNIT,
        validator_permit=bool(record["validator_permit"]),
        active=bool(record["active"]),
        last_update=int(record["last_update"]),
        block_at_registration=int(block_at_registration),
        incentive=u16_fraction(record.get("incentive")),
        consensus=u16_fraction(record.get("consensus")),
        validator_trust=u16_fraction(record.get("validator_trust")),
        dividends=u16_fraction(record.get("dividends")),
        emission=int(record.get("emission") or 0) / RAO_PER_UNIT,
        axon_ip=ip,
        axon_port=port,
    )


def weight_row(pairs: Sequence[Sequence[Any]] | None) -> dict[int, int]:
    """A `Weights` storage row, `[(uid, u16), ...]`, as `{uid: u16}`."""
    return {int(uid): int(value) for uid, value in pairs or []}


def vector_problem(
    uids: Sequence[int], weights_u16: Sequence[int]
) -> tuple[ChainError, str] | None:
    """Why a u16 weight vector cannot be sent at all, or None when it is well formed."""
    if len(uids) != len(weights_u16):
        return ChainError.WEIGHT_VEC_LENGTH_MISMATCH, (
            f"{len(uids)} uids but {len(weights_u16)} weights"
        )
    if len(set(uids)) != len(uids):
        return ChainError.DUPLICATE_UIDS, "a uid appears more than once"
    if any(not 0 <= int(u) <= U16_MAX for u in uids):
        return ChainError.INVALID_UID, "uids must be in 0..65535"
    if any(int(w) < 0 for w in weights_u16):
        return ChainError.NEGATIVE_WEIGHTS, "weights must be non-negative"
    if any(int(w) > U16_MAX for w in weights_u16):
        return ChainError.OTHER, "weights must be u16 values (at most 65535)"
    if not any(int(w) > 0 for w in weights_u16):
        return ChainError.ALL_WEIGHTS_ZERO, "all weights are zero; nothing to send"
    return None


def exceeds_max_weight(weights_u16: Sequence[int], max_weights_limit: int) -> bool:
    """The chain's max-weight rule in exact integers: max(w)/sum(w) > limit/65535.

    A single weight is left to the chain: it is allowed when it is a self-weight, which
    only the chain (knowing the caller's uid) decides.
    """
    nonzero = [int(w) for w in weights_u16 if int(w) > 0]
    if len(nonzero) < 2 or max_weights_limit >= U16_MAX:
        return False
    return max(nonzero) * U16_MAX > max_weights_limit * sum(nonzero)
