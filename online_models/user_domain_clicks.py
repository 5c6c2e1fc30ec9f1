"""Each user's click-through per domain, from labelled impressions: a ranking feature.

Why: how likely a user is to click depends on the item's domain as well as on its theme
(the simulator's true click model has a user x domain affinity term; a real one would have
"orders food, never buys clothes"). What a user *engages with* (``domain_share``, from the
recent history) shows it only through their positive actions; the labels also say which
domains they were shown and ignored. This keeps, per user and domain, the labelled
impressions and the clicks among them, and answers a shrunk log-lift::

    lift = log((clicks + a * p) / (shown + a)) - log(p)

where ``p`` is the domain's click rate over every user's labels and ``a`` the shrinkage
(``prior_weight``): 0 for a user without labels in that domain, positive when they click it
more than others do. The click model reads it, and the full ranker's blend (weight 0.2).
Features are read before the labels of a list are added (predict, then learn), so a label
never informs its own features.

State is two float32 rows of five domains per user in the shared user index (40 bytes a
user with labels): evicted and erased with the user.

>>> from online_models.users import UserIndex
>>> clicks = UserDomainClicks(UserIndex(10))
>>> clicks.learn("u", [4, 4, 4], [True, True, False])
>>> clicks.learn("v", [4, 4, 4], [False, False, False])
>>> [round(x, 2) for x in clicks.lift("u", np.array([4, 0], dtype=np.int8)).tolist()]
[0.67, 0.0]
>>> clicks.lift("stranger", np.array([4], dtype=np.int8)).tolist()
[0.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from online_models.catalogue import DOMAIN_CODE
from online_models.users import UserIndex, grow_rows

FloatArray = npt.NDArray[np.float64]


class UserDomainClicks:
    def __init__(self, users: UserIndex, prior_weight: float = 5.0) -> None:
        self.prior_weight = prior_weight
        self._users = users
        self._bit = users.attach(self)
        n_domains = len(DOMAIN_CODE)
        self._shown = np.zeros((0, n_domains), dtype=np.float32)
        self._clicked = np.zeros((0, n_domains), dtype=np.float32)
        # Every user's labels per domain, started at one click in ten (a weak prior).
        self._all_shown = np.full(n_domains, 10.0)
        self._all_clicked = np.full(n_domains, 1.0)

    def learn(self, user: str, codes: Sequence[int], clicked: Sequence[bool]) -> None:
        """Labelled impressions shown to ``user``: the domain code of each item and whether
        it was clicked (a list's labels in one call: two ``bincount``, not a pass per
        label)."""
        row, _ = self._users.touch(user, self._bit)
        if row >= self._shown.shape[0]:
            self._shown = grow_rows(self._shown, row + 1)  # type: ignore[assignment]
            self._clicked = grow_rows(self._clicked, row + 1)  # type: ignore[assignment]
        n = self._all_shown.shape[0]
        shown = np.bincount(codes, minlength=n)
        clicks = np.bincount(codes, weights=np.asarray(clicked, dtype=np.float64), minlength=n)
        self._shown[row] += shown
        self._clicked[row] += clicks
        self._all_shown += shown
        self._all_clicked += clicks

    def lift(self, user: str, codes: npt.NDArray[np.int8]) -> FloatArray:
        """The user's shrunk log-lift for each of ``codes`` (module docstring); pure."""
        row = self._users.row(user, self._bit)
        if row is None:
            return np.zeros(codes.shape[0])
        prior = self._all_clicked / self._all_shown
        a = self.prior_weight
        rate = (self._clicked[row] + a * prior) / (self._shown[row] + a)
        lift: FloatArray = np.log(rate / prior)[codes]
        return lift

    def release_rows(self, rows: list[int]) -> None:
        """Empty the rows of users the index let go (see ``users.py``)."""
        held = [r for r in rows if r < self._shown.shape[0]]
        self._shown[held] = 0.0
        self._clicked[held] = 0.0
