"""Tests of the ack window: batched acks that never cover an unhandled or unknown delivery."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from worker.acks import AckFrames, AckWindow


def test_in_order_settlements_ack_up_to_each() -> None:
    """Settling the front delivery acks it with multiple=True."""
    window = AckWindow()
    assert window.settle(1, acked=True) == AckFrames(upto=1)
    assert window.settle(2, acked=True) == AckFrames(upto=2)


def test_a_gap_holds_later_acks_until_it_closes() -> None:
    """A later delivery is not acked while an earlier one is still being handled."""
    window = AckWindow()
    assert window.settle(3, acked=True) == AckFrames()
    assert window.settle(2, acked=True) == AckFrames()
    assert window.settle(1, acked=True) == AckFrames(upto=3)


def test_multiple_ack_never_names_a_nacked_tag() -> None:
    """A nacked delivery is passed over; the ack names the highest acked tag."""
    window = AckWindow()
    assert window.settle(2, acked=True) == AckFrames()
    assert window.settle(3, acked=False) == AckFrames()
    assert window.settle(1, acked=True) == AckFrames(upto=2)
    assert window.settle(4, acked=False) == AckFrames()


def test_a_slow_front_does_not_hold_the_whole_window() -> None:
    """Beyond max_held settled deliveries behind a slow one, they are acked one by one."""
    window = AckWindow(max_held=2)
    assert window.settle(2, acked=True) == AckFrames()
    assert window.settle(3, acked=True) == AckFrames()
    assert window.settle(4, acked=True) == AckFrames(singles=(2, 3, 4))
    assert window.settle(1, acked=True) == AckFrames(upto=1)
    assert window.settle(5, acked=True) == AckFrames(upto=5)


@given(
    order=st.permutations(range(1, 41)),
    nacked=st.sets(st.integers(min_value=1, max_value=40)),
    max_held=st.integers(min_value=1, max_value=8),
)
def test_every_delivery_is_settled_exactly_once_at_the_broker(
    order: list[int], nacked: set[int], max_held: int
) -> None:
    """Played against a model broker: no ack for an unknown or unhandled tag, none left over."""
    window, outstanding, handled = AckWindow(max_held), set(range(1, 41)), set()
    for tag in order:
        handled.add(tag)
        if tag in nacked:
            outstanding.remove(tag)  # the nack frame goes out first
        frames = window.settle(tag, acked=tag not in nacked)
        for single in frames.singles:
            assert single in outstanding
            assert single in handled
            outstanding.remove(single)
        if frames.upto is not None:
            assert frames.upto in outstanding
            covered = {t for t in outstanding if t <= frames.upto}
            assert covered <= handled
            outstanding -= covered
    assert outstanding == set()
