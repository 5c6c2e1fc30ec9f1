"""Replay evaluator: run the production models prequentially over a recorded stream.

Input, three formats -- ``csv``, ``jsonl``, ``events`` -- of which
:func:`online_models.replay_input.read_input` picks one:

- *interaction log*, CSV with a header or JSON Lines, with keys ``user_id``, ``item_id``,
  ``timestamp`` (seconds as a number, or an RFC 3339 string) and optionally ``rating``,
  ``event_type`` (``click``, ``course_purchase``, ``partner_order``, ``rating``) and
  ``domain`` -- read here (:func:`read_events`);
- *events.in wire format*, JSON Lines as producers send them and ``crossrec simulate
  --output`` writes them -- read by :mod:`online_models.replay_wire` (clicks, course
  purchases and partner orders become interactions; catalogue upserts feed the catalogue;
  invalid lines are skipped and counted).

Events are replayed in timestamp order; ties keep file order (stable sort).

For each event: catalogue updates due by its time are applied (wire format only), the item
is upserted into the catalogue if still unknown (its domain from the event, else
``default_domain``), then every model *predicts*, then every model *learns*
(predict-then-learn, so no model ever sees the answer first).

- **Explicit ratings** (a ``rating`` column): ``crossrec`` (the production
  :class:`~online_models.recommender.CrossDomainRecommender`, through its MF) and
  ``river_biasedmf`` (River's ``reco.BiasedMF`` with the hyper-parameters of River's
  matrix-factorisation tutorial) predict each rating; predictions are clipped to the rating
  range seen so far; MAE and RMSE.
- **Positive-only** (no rating column): ``crossrec`` and ``popularity`` recommend 10 items
  for the user before the event; Recall@10 and NDCG@10 of the event's item. The items the
  user already interacted with are excluded from the candidates (``Context.exclude``), and
  repeat consumption (the event's item is one of them) is learned from but not evaluated —
  no model could be credited for it. An item never seen before cannot be recommended by any
  model, so it counts as a miss for all.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO, cast

from online_models.full_ranker import FullRanker
from online_models.metrics import MAE, RMSE, NDCGAtK, RecallAtK
from online_models.popularity import Popularity
from online_models.recommender import CrossDomainRecommender
from online_models.types import DOMAINS, Context, Domain, Interaction, InteractionKind, ItemInfo

_KINDS: frozenset[str] = frozenset({"click", "course_purchase", "partner_order", "rating"})


class ReplayInputError(ValueError):
    """The replay file cannot be read as an event stream (with the line number)."""


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    user: str
    item: str
    ts: float
    kind: InteractionKind
    rating: float | None
    domain: Domain | None


def _parse_ts(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("timestamp must be a number or an RFC 3339 string")
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        text = str(raw).strip()
        try:
            value = float(text)
        except ValueError:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                raise ValueError("timestamp string needs a timezone") from None
            value = dt.timestamp()
    if not math.isfinite(value):
        raise ValueError("timestamp must be finite")
    return value


def parse_record(record: dict[str, Any]) -> ReplayEvent:
    """One input record → event; raises ValueError with a reason."""
    user, item = record.get("user_id"), record.get("item_id")
    if not isinstance(user, str | int) or isinstance(user, bool) or str(user) == "":
        raise ValueError("user_id missing or empty")
    if not isinstance(item, str | int) or isinstance(item, bool) or str(item) == "":
        raise ValueError("item_id missing or empty")
    if "timestamp" not in record:
        raise ValueError("timestamp missing")
    ts = _parse_ts(record["timestamp"])
    raw_rating = record.get("rating")
    rating: float | None = None
    if raw_rating not in (None, ""):
        if isinstance(raw_rating, bool):
            raise ValueError("rating must be a number")
        rating = float(raw_rating)
        if not math.isfinite(rating):
            raise ValueError("rating must be finite")
    kind_raw = record.get("event_type") or ("rating" if rating is not None else "click")
    if kind_raw not in _KINDS:
        raise ValueError(f"unknown event_type {kind_raw!r}")
    domain_raw = record.get("domain") or None
    if domain_raw is not None and domain_raw not in DOMAINS:
        raise ValueError(f"unknown domain {domain_raw!r}")
    kind = cast(InteractionKind, kind_raw)
    domain = cast(Domain | None, domain_raw)
    return ReplayEvent(str(user), str(item), ts, kind, rating, domain)


def looks_like_wire(record: Mapping[str, Any]) -> bool:
    """True if ``record`` is shaped like an ``events.in`` message, not an interaction record.

    Every wire message has ``schema_version`` and ``ts``; an interaction record has
    ``timestamp`` and neither of those. One of the two suffices, so a message with one
    field missing (a hostile payload) still reveals the format.

    >>> looks_like_wire({"event_type": "click", "ts": "2026-11-29T10:00:00Z"})
    True
    >>> looks_like_wire({"user_id": "u", "item_id": "i", "timestamp": 1, "event_type": "click"})
    False
    """
    return "timestamp" not in record and ("ts" in record or "schema_version" in record)


def _records(fh: TextIO, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    if fmt == "csv":
        for n, row in enumerate(csv.DictReader(fh), start=2):
            yield n, dict(row)
        return
    for n, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReplayInputError(f"line {n}: invalid JSON: {exc.msg}") from exc
        if not isinstance(obj, dict):
            raise ReplayInputError(f"line {n}: expected a JSON object")
        yield n, obj


def read_events(path: Path, fmt: str = "auto") -> list[ReplayEvent]:
    """All events of the interaction log ``path`` in timestamp order (stable for ties).

    ``fmt``: ``csv``, ``jsonl``, or ``auto`` (by the file suffix). For the wire format, or
    detection by content, use :func:`online_models.replay_input.read_input`.
    """
    if fmt == "auto":
        fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"
    if fmt not in ("csv", "jsonl"):
        raise ReplayInputError(f"unknown format {fmt!r}")
    events: list[ReplayEvent] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for n, rec in _records(fh, fmt):
            try:
                events.append(parse_record(rec))
            except (ValueError, TypeError) as exc:
                hint = "; it looks like events.in wire format (--format events)"
                raise ReplayInputError(
                    f"line {n}: {exc}{hint if looks_like_wire(rec) else ''}"
                ) from exc
    events.sort(key=lambda e: e.ts)
    return events


def river_biased_mf(seed: int) -> Any:
    """River's ``reco.BiasedMF`` as configured in River's matrix-factorisation tutorial."""
    from river import optim, reco

    return reco.BiasedMF(
        n_factors=10,
        bias_optimizer=optim.SGD(0.025),
        latent_optimizer=optim.SGD(0.05),
        weight_initializer=optim.initializers.Zeros(),
        latent_initializer=optim.initializers.Normal(mu=0.0, sigma=0.1, seed=seed),
        l2_bias=0.0,
        l2_latent=0.0,
    )


def _interaction(e: ReplayEvent, domain: Domain) -> Interaction:
    return Interaction(e.user, e.item, e.kind, e.ts, rating=e.rating, domain=domain)


def replay(
    events: list[ReplayEvent],
    *,
    k: int = 10,
    seed: int = 0,
    default_domain: Domain = "course",
    recommender_factory: Callable[[], CrossDomainRecommender | FullRanker] | None = None,
    progress: TextIO | None = sys.stderr,
    progress_every: int = 10_000,
    catalogue_updates: Sequence[tuple[float, ItemInfo]] = (),
) -> dict[str, Any]:
    """Run the replay; returns the result object (see module docstring).

    ``catalogue_updates``: ``(ts, item)`` pairs in time order, given to every model (crossrec
    and the baseline) just before the first event at or after ``ts`` -- the catalogue as
    the worker would have it at that moment (full entries, withdrawals included).
    """
    make = recommender_factory or (lambda: CrossDomainRecommender(seed=seed))
    crossrec = make()
    # The blended recommender inside (the full ranker wraps one): its catalogue, half-life
    # and rating predictions. Upserts, recommendations and learning go through ``crossrec``.
    core = crossrec.recommender if isinstance(crossrec, FullRanker) else crossrec
    explicit = any(e.rating is not None for e in events)
    baselines: list[Popularity] = []  # models besides crossrec that keep a catalogue
    due = 0  # catalogue_updates[:due] are applied

    def apply_catalogue_until(ts: float) -> None:
        nonlocal due
        while due < len(catalogue_updates) and catalogue_updates[due][0] <= ts:
            item = catalogue_updates[due][1]
            crossrec.upsert_item(item)
            for model in baselines:
                model.upsert_item(item)
            due += 1

    start = time.perf_counter()
    own_seconds = 0.0
    result: dict[str, Any]
    if explicit:
        river_model = river_biased_mf(seed)
        ours = (MAE(), RMSE())
        theirs = (MAE(), RMSE())
        lo, hi = math.inf, -math.inf
        for n, e in enumerate(events, start=1):
            domain = e.domain or default_domain
            apply_catalogue_until(e.ts)
            t0 = time.perf_counter()
            if e.item not in core.catalogue:
                crossrec.upsert_item(ItemInfo(e.item, domain))
            if e.rating is not None:
                y = e.rating
                p_ours = core.predict_rating(e.user, e.item)
                own_seconds += time.perf_counter() - t0
                p_river = float(river_model.predict_one(e.user, e.item))
                if lo <= hi:  # clip to the rating range seen so far
                    p_ours = min(max(p_ours, lo), hi)
                    p_river = min(max(p_river, lo), hi)
                for m, p in ((ours, p_ours), (theirs, p_river)):
                    m[0].update(y, p)
                    m[1].update(y, p)
                river_model.learn_one(e.user, e.item, y)
                lo, hi = min(lo, y), max(hi, y)
                t0 = time.perf_counter()
            crossrec.learn(_interaction(e, domain))
            own_seconds += time.perf_counter() - t0
            if progress is not None and n % progress_every == 0:
                print(
                    f"{n}/{len(events)} crossrec mae={ours[0].get():.4f} "
                    f"river mae={theirs[0].get():.4f}",
                    file=progress,
                    flush=True,
                )
        result = {
            "mode": "ratings",
            "evaluated": ours[0].n,
            "crossrec": {"mae": ours[0].get(), "rmse": ours[1].get()},
            "river_biasedmf": {"mae": theirs[0].get(), "rmse": theirs[1].get()},
        }
    else:
        pop = Popularity(half_life=core.half_life, seed=seed)
        baselines.append(pop)
        rec_ours, ndcg_ours = RecallAtK(k), NDCGAtK(k)
        rec_pop, ndcg_pop = RecallAtK(k), NDCGAtK(k)
        seen: dict[str, set[str]] = {}
        for n, e in enumerate(events, start=1):
            domain = e.domain or default_domain
            apply_catalogue_until(e.ts)
            if e.item not in core.catalogue:
                info = ItemInfo(e.item, domain)
                crossrec.upsert_item(info)
                pop.upsert_item(info)
            mine = seen.setdefault(e.user, set())
            if e.item not in mine:
                ctx = Context(ts=e.ts, exclude=frozenset(mine))
                t0 = time.perf_counter()
                ours_ids = [s.item_id for s in crossrec.recommend(e.user, k, ctx)]
                own_seconds += time.perf_counter() - t0
                pop_ids = [s.item_id for s in pop.recommend(e.user, k, ctx)]
                rec_ours.update(e.item, ours_ids)
                ndcg_ours.update(e.item, ours_ids)
                rec_pop.update(e.item, pop_ids)
                ndcg_pop.update(e.item, pop_ids)
            mine.add(e.item)
            inter = _interaction(e, domain)
            t0 = time.perf_counter()
            crossrec.learn(inter)
            own_seconds += time.perf_counter() - t0
            pop.learn(inter)
            if progress is not None and n % progress_every == 0:
                print(
                    f"{n}/{len(events)} crossrec recall@{k}={rec_ours.get():.4f} "
                    f"popularity recall@{k}={rec_pop.get():.4f}",
                    file=progress,
                    flush=True,
                )
        result = {
            "mode": "implicit",
            "evaluated": rec_ours.n,
            "crossrec": {f"recall@{k}": rec_ours.get(), f"ndcg@{k}": ndcg_ours.get()},
            "popularity": {f"recall@{k}": rec_pop.get(), f"ndcg@{k}": ndcg_pop.get()},
        }
    seconds = time.perf_counter() - start
    head = {
        "events": len(events),
        "seconds": round(seconds, 3),
        "events_per_s": round(len(events) / seconds, 1) if seconds > 0 else 0.0,
        "crossrec_us_per_event": round(own_seconds / max(1, len(events)) * 1e6, 1),
    }
    return {**head, **result}
