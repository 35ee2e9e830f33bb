"""bench.amqp_frames runs end to end against RabbitMQ and leaves aiormq as it found it."""

from __future__ import annotations

import aiormq.connection
import pytest

from bench import amqp_frames

pytestmark = pytest.mark.broker


async def test_a_small_run_reports_both_receivers(
    amqp_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    installed = aiormq.connection.FrameReceiver
    args = amqp_frames.parse_args(["--amqp-url", amqp_url, "--messages", "40", "--rounds", "1"])
    assert await amqp_frames.run(args) == 0
    out = capsys.readouterr().out
    assert "round 1: aiormq " in out
    assert "round 1: wxface " in out
    assert "wxface / aiormq, all rounds: publish " in out
    assert aiormq.connection.FrameReceiver is installed


def test_sizes_below_one_are_refused() -> None:
    with pytest.raises(SystemExit):
        amqp_frames.parse_args(["--rounds", "0"])
