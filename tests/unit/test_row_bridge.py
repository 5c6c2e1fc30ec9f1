"""RowBridge: catalogue rows -> another row space's rows, remembered in an array.

Both sides are append-only row spaces, so a translation once found stays right; the
property test interleaves upserts on both sides (in different orders, some items on one side
only) with look-ups and checks every answer against the translation through the ids.
"""

from __future__ import annotations

import pickle

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from online_models.catalogue import Catalogue
from online_models.content import ContentSimilarity
from online_models.row_bridge import RowBridge
from online_models.types import ItemInfo

IDS = [f"i{n}" for n in range(12)]

# ("a", n): upsert IDS[n] into the catalogue; ("b", n): into the content model;
# ("map", n): translate catalogue rows.
steps = st.lists(
    st.tuples(st.sampled_from(["a", "b", "map"]), st.integers(0, len(IDS) - 1)), max_size=60
)


@given(steps)
def test_bridge_agrees_with_translation_by_id(plan: list[tuple[str, int]]) -> None:
    catalogue, content = Catalogue(), ContentSimilarity()
    to_content, to_catalogue = RowBridge(catalogue, content), RowBridge(content, catalogue)
    for action, n in plan:
        item = ItemInfo(IDS[n], "course", tags=(f"t{n % 3}",))
        if action == "a":
            catalogue.upsert(item)
        elif action == "b":
            content.upsert_item(item)
        else:
            for bridge, source, target in (
                (to_content, catalogue, content),
                (to_catalogue, content, catalogue),
            ):
                rows = np.arange(len(source.ids), dtype=np.int64)[::-1].copy()
                expected = target.rows_or_missing([source.ids[r] for r in rows.tolist()])
                assert bridge.map(rows).tolist() == expected.tolist()


def test_an_item_unknown_to_the_target_is_found_once_it_arrives() -> None:
    catalogue, content = Catalogue(), ContentSimilarity()
    catalogue.upsert(ItemInfo("x", "course"))
    bridge = RowBridge(catalogue, content)
    rows = np.array([0], dtype=np.int64)
    assert bridge.map(rows).tolist() == [-1]
    content.upsert_item(ItemInfo("z", "course"))
    content.upsert_item(ItemInfo("x", "course"))
    assert bridge.map(rows).tolist() == [1]


def test_the_remembered_translations_are_not_pickled() -> None:
    catalogue = Catalogue()
    for item_id in IDS:
        catalogue.upsert(ItemInfo(item_id, "course"))
    bridge = RowBridge(catalogue, catalogue)
    bridge.map(np.arange(len(IDS), dtype=np.int64))
    restored = pickle.loads(pickle.dumps(bridge))
    assert restored._known.shape[0] == 0
    assert restored.map(np.array([3], dtype=np.int64)).tolist() == [3]
