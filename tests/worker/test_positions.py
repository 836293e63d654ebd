"""The handoff between a partition's rewind and the live agent."""

from __future__ import annotations

from indexer.worker.positions import Positions


def test_a_rewind_behind_the_agent_does_not_hand_off() -> None:
    positions = Positions()
    positions.take(partition=3, offset=99)

    assert not positions.try_hand_off("g1", 3, position=50, log_end=120)
    assert ("g1", 3) not in positions.handed_off


def test_a_rewind_that_caught_up_with_the_agent_hands_off() -> None:
    positions = Positions()
    positions.take(partition=3, offset=99)

    assert positions.try_hand_off("g1", 3, position=100, log_end=120)
    assert ("g1", 3) in positions.handed_off


def test_with_an_idle_agent_the_log_end_decides() -> None:
    positions = Positions()

    assert not positions.try_hand_off("g1", 0, position=10, log_end=11)
    assert positions.try_hand_off("g1", 0, position=11, log_end=11)


def test_taken_offsets_only_grow_and_are_forgotten_on_revoke() -> None:
    positions = Positions()
    positions.take(1, 10)
    positions.take(1, 4)
    assert positions.taken == {1: 11}

    positions.forget({1})
    assert positions.taken == {}


def test_releasing_a_generation_ends_its_handoffs_only() -> None:
    positions = Positions()
    positions.take(0, 0)
    positions.try_hand_off("g1", 0, 1, 1)
    positions.try_hand_off("g2", 0, 1, 1)

    positions.release("g1")

    assert positions.handed_off == {("g2", 0)}
