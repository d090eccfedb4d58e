"""What the DJ actually played: transitions (A directly followed by B) and co-occurrence
(A and B in the same set), counted from the ``sets`` / ``set_entries`` tables.

Why plain counts and not only a learned model: with a few dozen sets, "you played B right
after A in 3 of your sets" is both the strongest signal and the most convincing
explanation; the matrix factorisation in :mod:`djml.models.cf` generalises beyond pairs
that were actually played. Pure Python over one SQL query: cheap enough for a CLI one-shot
(a few ms for thousands of set entries) and importing nothing heavy.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence


class SetStats:
    """Counts over ordered sets (each a sequence of item ids)."""

    def __init__(self, sets: Iterable[Sequence[int]], popularity: dict[int, int] | None = None):
        """``popularity`` (sets per item) defaults to counting ``sets``; :meth:`around` passes
        the library-wide counts while loading only the seed's sets."""
        self.sets: list[list[int]] = [list(s) for s in sets if len(s) > 0]
        # item -> [(set index, position)]: per-seed questions then touch only the seed's sets,
        # so building is linear in the number of entries (no all-pairs work up front).
        self.where: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for set_index, items in enumerate(self.sets):
            for position, item in enumerate(items):
                self.where[item].append((set_index, position))
        self.popularity: Counter[int] = Counter(popularity) if popularity is not None else Counter(
            {item: len({s for s, _ in places}) for item, places in self.where.items()}
        )
        self._top = max(self.popularity.values(), default=0)

    @classmethod
    def from_library(cls, conn: sqlite3.Connection) -> "SetStats":
        return cls(load_sets(conn).values())

    @classmethod
    def around(cls, conn: sqlite3.Connection, seed: int) -> "SetStats":
        """Only the sets containing ``seed`` (all a per-seed question needs) plus library-wide
        popularity from one SQL aggregate: a one-shot stays fast with thousands of sets.
        Popularity here counts set entries (answered from the item index alone, 25× faster
        than counting distinct sets); they differ only for tracks repeated within a set."""
        sets: dict[int, list[int]] = defaultdict(list)
        for set_id, item_id in conn.execute(
            "SELECT set_id, item_id FROM set_entries WHERE set_id IN"
            " (SELECT set_id FROM set_entries WHERE item_id = ?) ORDER BY set_id, position",
            (seed,),
        ):
            sets[set_id].append(item_id)
        popularity = dict(conn.execute(
            "SELECT item_id, COUNT(*) FROM set_entries GROUP BY item_id").fetchall())
        return cls(sets.values(), popularity)

    def __bool__(self) -> bool:
        return bool(self.sets)

    def transitions(self, seed: int) -> Counter[int]:
        """{next item: times it directly followed ``seed``}."""
        found: Counter[int] = Counter()
        for set_index, position in self.where.get(seed, ()):
            items = self.sets[set_index]
            if position + 1 < len(items) and items[position + 1] != seed:
                found[items[position + 1]] += 1
        return found

    def cooccurrences(self, seed: int) -> Counter[int]:
        """{item: number of sets containing both it and ``seed``}."""
        found: Counter[int] = Counter()
        for set_index in {s for s, _ in self.where.get(seed, ())}:
            found.update(set(self.sets[set_index]) - {seed})
        return found

    def transition_scores(self, seed: int) -> dict[int, float]:
        """P(next = item | seed) with add-one smoothing over the seed's followers, in [0, 1)."""
        counts = self.transitions(seed)
        total = sum(counts.values()) + 1
        return {item: n / total for item, n in counts.items()}

    def cooccurrence_scores(self, seed: int) -> dict[int, float]:
        """Cosine of the two items' set-membership vectors, in [0, 1]."""
        counts = self.cooccurrences(seed)
        mine = self.popularity.get(seed, 0)
        return {item: n / math.sqrt(mine * self.popularity[item]) for item, n in counts.items()}

    def novelty(self, item: int) -> float:
        """1 for items never played in a set, falling with log popularity (0 for the most
        played). Rewards digging in the crate instead of replaying the same hits."""
        if not self._top:
            return 1.0
        return 1.0 - math.log1p(self.popularity.get(item, 0)) / math.log1p(self._top)


def load_sets(conn: sqlite3.Connection) -> dict[int, list[int]]:
    """{set id: item ids in play order} for every set in the library."""
    sets: dict[int, list[int]] = defaultdict(list)
    for set_id, item_id in conn.execute(
        "SELECT set_id, item_id FROM set_entries ORDER BY set_id, position"
    ):
        sets[set_id].append(item_id)
    return dict(sets)
