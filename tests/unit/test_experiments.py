from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import pseudonymise
from streams.experiments import Experiment
from streams.settings import SettingsError


def test_assignment_is_stable_and_follows_the_weights() -> None:
    exp = Experiment.parse("ranker-v1:full=50,mf_only=25,popularity=25")
    users = [pseudonymise(b"k", f"user-{i}") for i in range(20_000)]
    first = [exp.assign(u) for u in users]
    assert first == [exp.assign(u) for u in users]
    shares = Counter(first)
    assert abs(shares["full"] / len(users) - 0.50) < 0.02
    assert abs(shares["mf_only"] / len(users) - 0.25) < 0.02
    assert abs(shares["popularity"] / len(users) - 0.25) < 0.02


def test_experiments_with_other_names_assign_independently() -> None:
    a = Experiment.parse("a:full=50,popularity=50")
    b = Experiment.parse("b:full=50,popularity=50")
    users = [pseudonymise(b"k", f"user-{i}") for i in range(4_000)]
    agree = sum(a.assign(u) == b.assign(u) for u in users) / len(users)
    assert 0.45 < agree < 0.55


@pytest.mark.parametrize(
    "spec",
    ["", "noname", ":full=1", "x:full", "x:full=0", "x:unknown=5", "x:full=1,full=2", "x:full=-1"],
)
def test_bad_specs_name_the_setting(spec: str) -> None:
    with pytest.raises(SettingsError, match="CROSSREC_EXPERIMENT"):
        Experiment.parse(spec)


@given(st.text(min_size=1, max_size=40))
def test_any_user_gets_a_declared_variant(user: str) -> None:
    exp = Experiment.parse("x:full=3,popularity=1")
    assert exp.assign(user) in exp.names
