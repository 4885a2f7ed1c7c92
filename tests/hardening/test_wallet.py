"""A corrupt or empty wallet keyfile is a one-line error at start-up, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

bt = pytest.importorskip("bittensor")

from minertrace.chain.bittensor.chain import load_wallet  # noqa: E402


@pytest.mark.parametrize(
    "content", [b"garbage{not json", b"", b"\xff\xfe\x00", b'{"ss58Address": 5}']
)
def test_a_corrupt_hotkey_file_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    hotkeys = tmp_path / "validator" / "hotkeys"
    hotkeys.mkdir(parents=True)
    (hotkeys / "hot1").write_bytes(content)
    with pytest.raises(ValueError, match=r"hotkey file .*hot1") as excinfo:
        load_wallet("validator", "hot1", str(tmp_path))
    assert "\n" not in str(excinfo.value)


def test_a_good_wallet_loads(tmp_path: Path) -> None:
    wallet = bt.Wallet("validator", "hot1", str(tmp_path))
    wallet.create_new_coldkey(use_password=False, suppress=True)
    wallet.create_new_hotkey(suppress=True)
    assert load_wallet("validator", "hot1", str(tmp_path)).hotkey.ss58_address
