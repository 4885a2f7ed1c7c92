"""The pure SDK-to-minertrace translations used by `BittensorChain`."""

from __future__ import annotations

import ipaddress

import pytest

from minertrace.chain.bittensor.mapping import (
    axon_endpoint,
    chain_error_of,
    exceeds_max_weight,
    weight_row,
)
from minertrace.chain.types import ChainError


@pytest.mark.parametrize(
    ("name", "code", "expected"),
    [
        ("MaxWeightExceeded", "limit_exceeded", ChainError.MAX_WEIGHT_EXCEEDED),
        ("CommittingWeightsTooFast", "rate_limited", ChainError.RATE_LIMIT),
        (None, "not_registered", ChainError.HOTKEY_NOT_REGISTERED),
        (None, "rate_limited", ChainError.RATE_LIMIT),
        ("NotEnoughStakeToSetWeights", "insufficient_balance", ChainError.OTHER),
        (None, None, ChainError.OTHER),
    ],
)
def test_chain_error_names_win_over_codes(
    name: str | None, code: str | None, expected: ChainError
) -> None:
    assert chain_error_of(name, code) is expected


def test_axon_endpoints() -> None:
    v6 = int(ipaddress.IPv6Address("2001:db8::1"))
    assert axon_endpoint({"ip": v6, "port": 9000, "ip_type": 6}) == ("2001:db8::1", 9000)
    assert axon_endpoint({"ip": 0x7F000001, "port": 1, "ip_type": 4}) == ("127.0.0.1", 1)
    assert axon_endpoint(None) == ("0.0.0.0", 0)


def test_max_weight_rule_is_exact_at_the_boundary() -> None:
    # 65535 / (65535 + 65535) == 32767.5 / 65535: allowed at 32768, refused at 32767.
    assert not exceeds_max_weight([65535, 65535], 32768)
    assert exceeds_max_weight([65535, 65535], 32767)
    assert not exceeds_max_weight([65535], 100)
    assert not exceeds_max_weight([65535, 1], 65535)


def test_weight_row() -> None:
    assert weight_row([(3, 10), (1, 65535)]) == {3: 10, 1: 65535}
    assert weight_row(None) == {}
