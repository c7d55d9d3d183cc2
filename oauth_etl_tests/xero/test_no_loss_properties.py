"""Property: whatever users save while we read and wherever a run stops, nothing is lost.

Random data (many records sharing a stamp), random page sizes, both readings of
If-Modified-Since (`>` and `>=`), random edits, inserts and deletes after random calls of
both runs, and a day-limit stop at a random call of the first run. After the first run
and the next one, every record that existed when the first run started and still exists
has landed in a version at least as new as the one it had then, and no batch holds an
id twice. The model is oauth_etl_tests/xero/model_xero.py; its clock is fake.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oauth_etl_tests.xero.model_xero import BASE, ModelXero
from oauth_etl_tests.xero.test_no_loss import Landed, assert_nothing_lost, land, run

KINDS = ("edit", "insert", "delete")
changes = st.lists(
    st.tuples(st.integers(1, 14), st.sampled_from(KINDS), st.integers(0, 10_000)), max_size=12
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(0, 70))
    seconds = draw(st.lists(st.integers(0, 25), min_size=n, max_size=n))
    millis = draw(st.lists(st.sampled_from((0, 0, 1, 500, 999)), min_size=n, max_size=n))
    return {
        "stamps": sorted(
            BASE + timedelta(seconds=s, milliseconds=m)
            for s, m in zip(seconds, millis, strict=True)
        ),
        "page_size": draw(st.sampled_from((4, 7, 10))),
        "inclusive": draw(st.booleans()),
        "first": draw(changes),
        "second": draw(changes),
        "stop_at": draw(st.one_of(st.none(), st.integers(1, 12))),
        "in_flight": draw(st.sampled_from((1, 3))),
    }


def schedule(model: ModelXero, planned: list[tuple[int, str, int]]) -> None:
    model.changes = {}
    inserted = [0]
    for call, kind, pick in planned:

        def change(m: ModelXero, kind: str = kind, pick: int = pick) -> None:
            ids = sorted(m.rows)
            if kind == "insert" or not ids:
                inserted[0] += 1
                m.insert(f"new-{len(m.calls)}-{inserted[0]}")
            elif kind == "edit":
                m.edit(ids[pick % len(ids)])
            else:
                m.delete(ids[pick % len(ids)])

        model.changes.setdefault(call, []).append(change)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_no_record_is_lost_across_a_run_and_the_next(case: dict[str, Any]) -> None:
    model = ModelXero(inclusive=case["inclusive"])
    for i, stamp in enumerate(case["stamps"]):
        model.add(f"id-{i:03d}", stamp)
    at_start = model.versions()
    options = {"page_size": case["page_size"], "max_in_flight": case["in_flight"]}
    landed: Landed = {}

    schedule(model, case["first"])
    model.stop_at = case["stop_at"]
    records, first = run(model, None, **options)
    land(landed, records)

    model.calls.clear()
    model.stop_at = None
    schedule(model, case["second"])
    more, _ = run(model, first.cursor_to, **options)
    land(landed, more)
    assert_nothing_lost(at_start, landed, model)
