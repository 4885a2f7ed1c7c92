"""The `bittensor.Substrate` calls `FakeSubstrate` leaves out, each failing loudly.

Weight setting never signs offline, looks an extrinsic up by hash or goes through a
multisig, so the fake does not model these calls; they exist so that the fake satisfies
the SDK's `Substrate` protocol, and a test that reaches one fails with a clear error.
"""

from __future__ import annotations

from typing import Any, NoReturn

from bittensor import ExtrinsicResult, UnsignedExtrinsic


def _unmodelled(name: str) -> NoReturn:
    raise NotImplementedError(f"FakeSubstrate does not model Substrate.{name}")


class UnmodelledSubstrateCalls:
    """The part of the `Substrate` protocol outside weight setting."""

    async def sign_extrinsic(
        self, call: Any, keypair: Any, *, nonce: int, period: int
    ) -> tuple[bytes, str]:
        _unmodelled("sign_extrinsic")

    async def find_extrinsic(self, extrinsic_hash: str, block_hash: str) -> ExtrinsicResult | None:
        _unmodelled("find_extrinsic")

    async def prepare(
        self,
        call: Any,
        *,
        address: str,
        crypto_type: int = 1,
        nonce: int | None = None,
        period: int | None = 64,
        tip: int = 0,
        metadata_hash: bytes | None = None,
    ) -> UnsignedExtrinsic:
        _unmodelled("prepare")

    async def submit_signature(
        self,
        unsigned: UnsignedExtrinsic,
        signature: bytes | str,
        *,
        wait_for_inclusion: bool = True,
        wait_for_finalization: bool = True,
    ) -> ExtrinsicResult:
        _unmodelled("submit_signature")

    async def submit_signed(
        self,
        extrinsic: Any,
        keypair: Any,
        *,
        wait_for_inclusion: bool = True,
        wait_for_finalization: bool = True,
    ) -> ExtrinsicResult:
        _unmodelled("submit_signed")

    def multisig_account(self, signatories: list[str], threshold: int) -> Any:
        _unmodelled("multisig_account")

    async def submit_multisig(
        self,
        call: Any,
        keypair: Any,
        multisig_account: Any,
        *,
        wait_for_inclusion: bool = True,
        wait_for_finalization: bool = True,
    ) -> ExtrinsicResult:
        _unmodelled("submit_multisig")
