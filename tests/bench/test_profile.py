"""Tests of the profile summary: self time by package, top functions, inclusive counted once."""

from __future__ import annotations

import pytest

from bench.receiver.profile import package, summarize

STACKS = [
    "main (receiver/__main__.py:5);run_app (aiohttp/web.py:502) 50",
    "main (receiver/__main__.py:5);publish (aiormq/channel.py:9);write (pamqp/frame.py:3) 30",
    "main (receiver/__main__.py:5);f (shared/x.py:1);f (shared/x.py:1) 20",
    "garbage line",
]


def test_self_time_goes_to_the_leaf_package() -> None:
    """Each sample counts for the package of its innermost frame."""
    summary = summarize(STACKS)
    assert summary.samples == 100
    assert summary.by_package == [("aiohttp", 0.5), ("pamqp", 0.3), ("shared", 0.2)]
    assert summary.self_top[0] == ("run_app (aiohttp/web.py:502)", 0.5)


def test_recursive_frames_count_once_inclusive() -> None:
    """A frame appearing twice in one stack adds its samples once to inclusive time."""
    inclusive = dict(summarize(STACKS).inclusive_top)
    assert inclusive["main (receiver/__main__.py:5)"] == 1.0
    assert inclusive["f (shared/x.py:1)"] == 0.2


def test_process_and_thread_pseudo_frames_are_ignored() -> None:
    """py-spy's ``process …`` and ``thread (…)`` frames are neither functions nor packages."""
    stack = 'process 7:"python -m receiver (x)";thread (0x7f);f (shared/x.py:1) 4'
    summary = summarize([stack])
    assert summary.inclusive_top == [("f (shared/x.py:1)", 1.0)]


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ("run_app (aiohttp/web.py:502)", "aiohttp"),
        ("x (/usr/lib/python3/site-packages/pamqp/base.py:1)", "pamqp"),
        ("_run_code (<frozen runpy>:88)", "<frozen>"),
        ("cast (typing.py:3)", "typing"),
    ],
)
def test_package_of_a_frame(frame: str, expected: str) -> None:
    """The first part of py-spy's relative file name is the package."""
    assert package(frame) == expected


def test_render_lists_the_top_items() -> None:
    """The text names the packages and functions with their shares."""
    text = summarize(STACKS).render(n=2)
    assert "100 samples" in text
    assert " 50.0%  aiohttp" in text
