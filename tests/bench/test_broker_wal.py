"""Tests of reading whether RabbitMQ's quorum WAL rolled over."""

from __future__ import annotations

from pathlib import Path

from bench.broker_wal import newest_wal, rolled_over


def test_the_newest_wal_is_the_highest_numbered_file(tmp_path: Path) -> None:
    """Names sort by their number; with no file (or no permission to see one) it is None."""
    node = tmp_path / "rabbit@host" / "quorum" / "rabbit@host"
    pattern = str(tmp_path / "*" / "quorum" / "*" / "*.wal")
    assert newest_wal(pattern) is None
    node.mkdir(parents=True)
    (node / "00000004.wal").write_bytes(b"")
    (node / "00000005.wal").write_bytes(b"")
    (node / "names.dets").write_bytes(b"")
    assert newest_wal(pattern) == "00000005.wal"


def test_a_new_file_means_a_rollover_and_an_unseen_one_means_unknown() -> None:
    """Another newest file after the phase is a rollover; a missing reading is no answer."""
    assert rolled_over("00000005.wal", "00000006.wal") is True
    assert rolled_over("00000005.wal", "00000005.wal") is False
    assert rolled_over(None, "00000005.wal") is None
    assert rolled_over("00000005.wal", None) is None
