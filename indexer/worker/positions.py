"""Where the live agent is in each changelog partition, and the handoffs.

A rewind of partition ``p`` into a new generation writes the records the live
agent has already taken; once it has caught up with the agent, it hands the
partition over and the agent writes every later record to the new generation
too. Both sides run on one event loop: the check and the handoff happen with
no ``await`` between them, so no record falls between the two writers.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Positions:
    # Partition -> the offset after the last record the live agent took.
    taken: dict[int, int] = field(default_factory=dict)
    # (generation, partition) handed over to the live agent.
    handed_off: set[tuple[str, int]] = field(default_factory=set)

    def take(self, partition: int, offset: int) -> None:
        if offset + 1 > self.taken.get(partition, -1):
            self.taken[partition] = offset + 1

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.taken.pop(partition, None)

    def try_hand_off(
        self, generation: str, partition: int, position: int, log_end: int
    ) -> bool:
        """Hand over when the rewind at ``position`` has passed the agent.

        An agent that took nothing yet starts at its committed offset, which
        is never past the log end.
        """
        taken = self.taken.get(partition)
        caught_up = position >= (log_end if taken is None else taken)
        if caught_up:
            self.handed_off.add((generation, partition))
        return caught_up

    def hand_off(self, generation: str, partition: int) -> None:
        """Hand over a partition that has nothing to rewind."""
        self.handed_off.add((generation, partition))

    def release(self, generation: str) -> None:
        self.handed_off = {h for h in self.handed_off if h[0] != generation}
