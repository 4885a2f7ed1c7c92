"""`BittensorChain`: the `Chain` protocol over the bittensor SDK (v11).

Install with ``pip install 'minertrace[bittensor]'``. The SDK's async client is
`bittensor.Client` (v11 dropped `AsyncSubtensor`; `await bittensor.Subtensor(...)` yields
the same client). Weights go through the SDK's `SetWeights` intent, which picks plain
`set_mechanism_weights` or a timelocked commit (commit-reveal) from the subnet's own
configuration and preflights registration and the rate limit before signing.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import replace
from typing import Any

try:
    import bittensor as bt
    from bittensor.intents import SetWeights, normalize
    from bittensor.settings import GLOBAL_MAX_SUBNET_COUNT
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "BittensorChain needs the bittensor SDK: pip install 'minertrace[bittensor]'"
    ) from exc

from minertrace.chain.bittensor.mapping import (
    chain_error_of,
    exceeds_max_weight,
    neuron_from_record,
    vector_problem,
    weight_row,
)
from minertrace.chain.types import (
    ChainError,
    NeuronInfo,
    SubmissionReceipt,
    SubmissionStatus,
    SubnetHyperparameters,
)

logger = logging.getLogger(__name__)

_SM = bt.storage.SubtensorModule


def _st(item: Any) -> tuple[str, str]:
    """A generated storage item as the (pallet, name) pair the client's reads are typed for."""
    return (str(item.container), str(item.name))


DEFAULT_SUBMIT_TIMEOUT = 120.0


def load_wallet(name: str, hotkey: str, path: str | None = None) -> bt.Wallet:
    """Open a bittensor wallet by its settings names (`--wallet.name`, `--wallet.hotkey`).

    Only the hotkey is needed to set weights; it is read here so a missing, misnamed or
    corrupt wallet fails at start-up with the path it looked at (`FileNotFoundError`,
    `ValueError`), not at the first submission.
    """
    wallet = bt.Wallet(name, hotkey, os.path.expanduser(path)) if path else bt.Wallet(name, hotkey)
    hotkey_path = os.path.join(os.path.expanduser(wallet.path), name, "hotkeys", hotkey)
    if not os.path.exists(hotkey_path):
        raise FileNotFoundError(
            f"bittensor wallet {name!r} has no hotkey {hotkey!r} (looked for {hotkey_path})"
        )
    try:
        address = bt.public_view(wallet, "hotkey").ss58_address
    except Exception as exc:
        # The SDK's keyfile errors have no common base beyond Exception.
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"the hotkey file {hotkey_path} cannot be read: {detail}") from None
    if not address:
        raise ValueError(f"the hotkey file {hotkey_path} holds no address")
    return wallet


class BittensorChain:
    """The `Chain` protocol over a real subtensor node through the bittensor SDK.

    `subtensor` is a network name (``finney``, ``test``, ``local``), a ``ws://``/``wss://``
    endpoint, a `bittensor.Client`, or a cold `bittensor.Subtensor` (awaited here, which
    locks it into async mode). A client built here from a name is owned and closed by
    `close()`; a client passed in is left open. `wallet` is anything the SDK accepts as a
    wallet (`bittensor.Wallet`, a wallet-shaped object with `hotkey`/`coldkeypub`, ...);
    weights are signed with its hotkey.
    """

    def __init__(
        self,
        subtensor: str | bt.Client | bt.Subtensor,
        wallet: Any,
        *,
        mechid: int = 0,
        submit_timeout: float = DEFAULT_SUBMIT_TIMEOUT,
        wait_for_finalization: bool = False,
    ) -> None:
        self._source = subtensor
        self._owns_client = isinstance(subtensor, str)
        self._client: bt.Client | None = None
        self._connect_lock = asyncio.Lock()
        self.wallet = wallet
        self.mechid = mechid
        self.submit_timeout = submit_timeout
        self.wait_for_finalization = wait_for_finalization

    @classmethod
    def from_settings(
        cls,
        network: str,
        wallet_name: str,
        wallet_hotkey: str,
        wallet_path: str | None = None,
        **options: Any,
    ) -> BittensorChain:
        """Build from settings names: network or endpoint, wallet name, hotkey, path."""
        return cls(network, load_wallet(wallet_name, wallet_hotkey, wallet_path), **options)

    @property
    def hotkey(self) -> str:
        """ss58 address of the wallet's hotkey (the validator this chain signs for)."""
        return str(bt.public_view(self.wallet, "hotkey").ss58_address)

    # -- connection -------------------------------------------------------------------

    async def client(self) -> bt.Client:
        """The connected SDK client (connects on first use)."""
        async with self._connect_lock:
            if self._client is None:
                source = self._source
                if isinstance(source, str):
                    client = bt.Client(source)
                    await client.connect()
                elif isinstance(source, bt.Subtensor):
                    client = await source
                else:
                    client = source
                    await client.connect()
                self._client = client
            return self._client

    async def close(self) -> None:
        """Close the connection if this object opened it."""
        if self._client is not None and self._owns_client:
            await self._client.close()
        self._client = None

    async def __aenter__(self) -> BittensorChain:
        await self.client()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _storage_index(self, netuid: int) -> int:
        # Weights and LastUpdate are keyed by mechanism index, which is the netuid for
        # mechanism 0.
        return self.mechid * GLOBAL_MAX_SUBNET_COUNT + netuid

    # -- reads ------------------------------------------------------------------------

    async def current_block(self) -> int:
        """Height of the best block."""
        return int(await (await self.client()).block())

    async def block_hash(self, height: int) -> str | None:
        """Hash of the block at `height` on the node's best chain, None if it has none."""
        client = await self.client()
        try:
            info = await client.block_info(height)
        except (bt.ChainError, LookupError):
            return None
        return None if info is None or info.hash is None else str(info.hash)

    async def neurons(self, netuid: int) -> list[NeuronInfo]:
        """The subnet's neurons, read at one block, in UID order."""
        client = await self.client()
        block = await client.block()
        lite, registered = await asyncio.gather(
            client.neurons.all(netuid, block=block, lite=True),
            client.query_map(_st(_SM.BlockAtRegistration), [netuid], block=block),
        )
        registered_at = {int(uid): int(value) for uid, value in registered}
        return [neuron_from_record(n.raw, registered_at.get(n.uid, 0)) for n in lite]

    async def hyperparameters(self, netuid: int) -> SubnetHyperparameters:
        """The weight-setting hyperparameters, read at one block."""
        view = await (await self.client()).at()
        items = (
            _st(_SM.Tempo),
            _st(_SM.WeightsSetRateLimit),
            _st(_SM.MaxWeightsLimit),
            _st(_SM.MinAllowedWeights),
            _st(_SM.WeightsVersionKey),
            _st(_SM.CommitRevealWeightsEnabled),
            _st(_SM.RevealPeriodEpochs),
            _st(_SM.ActivityCutoff),
        )
        values = await asyncio.gather(*(view.query(item, [netuid]) for item in items))
        tempo, rate, max_limit, min_weights, version, cr, reveal, cutoff = values
        return SubnetHyperparameters(
            tempo=int(tempo or 0),
            weights_rate_limit=int(rate or 0),
            max_weight_limit=int(max_limit if max_limit is not None else 65535) / 65535,
            min_allowed_weights=int(min_weights or 0),
            weights_version_key=int(version or 0),
            commit_reveal_enabled=bool(cr),
            reveal_period_epochs=int(reveal or 0),
            activity_cutoff=int(cutoff or 0),
        )

    async def weights_of(self, netuid: int, validator_uid: int) -> dict[int, int]:
        """The u16 `Weights` row the chain holds for `validator_uid`."""
        client = await self.client()
        row = await client.query(_st(_SM.Weights), [self._storage_index(netuid), validator_uid])
        return weight_row(row)

    async def last_epoch_block(self, netuid: int) -> int:
        """Block at which the subnet's last epoch ran (`LastEpochBlock`)."""
        client = await self.client()
        return int(await client.query(_st(_SM.LastEpochBlock), [netuid]) or 0)

    async def next_epoch_block(self, netuid: int) -> int:
        """Block of the next epoch as the chain computes it (owner triggers included)."""
        client = await self.client()
        value = await client.epochs.next_epoch_start_block(netuid)
        if value is None:
            raise ValueError(f"subnet {netuid} has tempo 0 and runs no epochs")
        return int(value)

    # -- weights ----------------------------------------------------------------------

    async def set_weights(
        self,
        hotkey: str,
        netuid: int,
        uids: list[int],
        weights_u16: list[int],
        version_key: int,
    ) -> SubmissionReceipt:
        """Send u16 weights (or, under commit-reveal, commit them) and say what happened.

        The SDK's `SetWeights` only takes relative float weights, which it clips to the
        max-weight limit and quantises with `round(w / max(w) * 65535)`. Passing the u16
        values themselves as floats makes that quantisation the identity on a vector
        whose largest entry is 65535 (minertrace's encoding): w / 65535 * 65535 is within
        a few ulps of the integer w and rounds back to it. The clip is a no-op for a
        vector that already respects the limit, so a vector that does not is refused
        here with the chain's own `MaxWeightExceeded` rather than sent altered.
        """
        problem = vector_problem(uids, weights_u16)
        if problem is None and hotkey != self.hotkey:
            problem = (ChainError.OTHER, f"hotkey {hotkey} is not the wallet's {self.hotkey}")
        if problem is not None:
            return self._rejected(netuid, hotkey, uids, weights_u16, *problem)
        client = await self.client()
        limit = await client.query(_st(_SM.MaxWeightsLimit), [netuid])
        if exceeds_max_weight(weights_u16, int(limit if limit is not None else 65535)):
            return self._rejected(
                netuid,
                hotkey,
                uids,
                weights_u16,
                ChainError.MAX_WEIGHT_EXCEEDED,
                f"max(w)/sum(w) exceeds the subnet's max_weight_limit {limit}/65535",
            )
        floats = [float(w) for w in weights_u16]
        sent_uids, sent_values = normalize(list(uids), floats)
        intent = SetWeights(
            netuid=netuid,
            uids=list(uids),
            weights=floats,
            mechid=self.mechid,
            version_key=version_key,
        )
        base = SubmissionReceipt(
            status=SubmissionStatus.REJECTED,
            netuid=netuid,
            hotkey=hotkey,
            uids=tuple(sent_uids),
            weights_u16=tuple(sent_values),
        )
        try:
            result = await asyncio.wait_for(
                client.execute(
                    intent,
                    self.wallet,
                    wait_for_inclusion=True,
                    wait_for_finalization=self.wait_for_finalization,
                ),
                timeout=self.submit_timeout,
            )
        except asyncio.TimeoutError:
            logger.warning(
                "set_weights on netuid %s: no inclusion within %ss", netuid, self.submit_timeout
            )
            return replace(
                base,
                status=SubmissionStatus.TIMEOUT,
                error=ChainError.TIMEOUT,
                message=f"no inclusion observed within {self.submit_timeout}s",
            )
        except bt.ChainError as error:
            return await self._sdk_refusal(base, error, client)
        except bt.BittensorError as error:
            return replace(base, error=ChainError.OTHER, message=str(error))
        return await self._receipt(base, result, client)

    async def _sdk_refusal(
        self, base: SubmissionReceipt, error: bt.ChainError, client: bt.Client
    ) -> SubmissionReceipt:
        """Receipt for a weight submission the SDK refused before sending it."""
        code = error.code.value if error.code is not None else None
        mapped = chain_error_of(error.name, code)
        if mapped is ChainError.OTHER and code == "invalid_argument" and error.name is None:
            # The SDK's only nameless invalid-argument refusal of a well-formed vector
            # is the minimum weight count; confirm it against the chain's value.
            minimum = int(await client.query(_st(_SM.MinAllowedWeights), [base.netuid]) or 0)
            if len(base.uids) < minimum:
                mapped = ChainError.TOO_FEW_WEIGHTS
        return replace(base, error=mapped, message=error.message)

    async def _receipt(
        self, base: SubmissionReceipt, result: bt.ExtrinsicResult, client: bt.Client
    ) -> SubmissionReceipt:
        block_number = _block_of(result.extrinsic_id)
        block_hash = result.block_hash
        if not result.success:
            err = result.error
            name = err.name if err is not None else None
            code = err.code.value if err is not None and err.code is not None else None
            mapped = chain_error_of(name, code)
            status = SubmissionStatus.TIMEOUT if mapped is ChainError.TIMEOUT else base.status
            return replace(
                base,
                status=status,
                error=mapped,
                message=result.message,
                block_number=block_number,
                block_hash=block_hash,
            )
        reveal_round = result.data.get("reveal_round")
        if reveal_round is None:
            return replace(
                base,
                status=SubmissionStatus.INCLUDED,
                message=result.message,
                block_number=block_number,
                block_hash=block_hash,
            )
        reveal_epoch, reveal_block = await self._reveal_schedule(client, base.netuid, block_number)
        return replace(
            base,
            status=SubmissionStatus.COMMITTED,
            message=f"committed; drand reveal round {int(reveal_round)}",
            block_number=block_number,
            block_hash=block_hash,
            reveal_epoch=reveal_epoch,
            reveal_block=reveal_block,
        )

    async def _reveal_schedule(
        self, client: bt.Client, netuid: int, block: int | None
    ) -> tuple[int, int]:
        """(epoch index, first block) at which a commit included at `block` is revealed.

        A commit made in epoch e is applied at the start of epoch e + RevealPeriodEpochs;
        e is the subnet's epoch index in the state the commit was applied to.
        """
        epoch, period, last_epoch, tempo = await asyncio.gather(
            client.query(_st(_SM.SubnetEpochIndex), [netuid], block=block),
            client.query(_st(_SM.RevealPeriodEpochs), [netuid], block=block),
            client.query(_st(_SM.LastEpochBlock), [netuid], block=block),
            client.query(_st(_SM.Tempo), [netuid], block=block),
        )
        periods = int(period or 0)
        return int(epoch or 0) + periods, int(last_epoch or 0) + periods * int(tempo or 0)

    async def is_revealed(self, receipt: SubmissionReceipt) -> bool:
        """Whether the receipt's weights are in force on chain.

        A plain inclusion is in force at once. A commit is confirmed only once its reveal
        epoch has started and the validator's `Weights` row equals the committed u16
        vector: a reveal can fail silently on chain, so the row is the proof. (A failed
        reveal behind an identical earlier row is indistinguishable without scanning
        blocks for `TimelockedWeightsRevealed`; the weights in force are the same.)
        """
        if receipt.status is SubmissionStatus.INCLUDED:
            return True
        if receipt.status is not SubmissionStatus.COMMITTED or receipt.reveal_epoch is None:
            return False
        client = await self.client()
        epoch = int(await client.query(_st(_SM.SubnetEpochIndex), [receipt.netuid]) or 0)
        if epoch < receipt.reveal_epoch:
            return False
        uid = await client.query(_st(_SM.Uids), [receipt.netuid, receipt.hotkey])
        if uid is None:
            return False
        row = await self.weights_of(receipt.netuid, int(uid))
        return row == dict(zip(receipt.uids, receipt.weights_u16, strict=True))

    @staticmethod
    def _rejected(
        netuid: int,
        hotkey: str,
        uids: list[int],
        weights_u16: list[int],
        error: ChainError,
        message: str,
    ) -> SubmissionReceipt:
        return SubmissionReceipt(
            status=SubmissionStatus.REJECTED,
            error=error,
            message=message,
            netuid=netuid,
            hotkey=hotkey,
            uids=tuple(int(u) for u in uids),
            weights_u16=tuple(int(w) for w in weights_u16),
        )


def _block_of(extrinsic_id: str | None) -> int | None:
    """Block number from the SDK's extrinsic id ("<block>-<index>")."""
    if not extrinsic_id:
        return None
    head, _, _ = extrinsic_id.partition("-")
    return int(head) if head.isdigit() else None
