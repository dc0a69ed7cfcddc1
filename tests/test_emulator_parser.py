"""Property tests of the emulator's create-request parser (fast pass, precise pass, date-times)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from genomcore_sdk.emulator.ingest import (
    INT64_MAX,
    INT64_MIN,
    BodyRejected,
    ObservationParser,
    ParsedObservations,
    parse_instant,
)
from genomcore_sdk.emulator.schema import derive_schema
from genomcore_sdk.emulator.store import format_instant
from tests.test_emulator_schema import RegeneratedMeta, RegeneratedPoint

_EPOCH = datetime.datetime(1970, 1, 1)
_MICRO = datetime.timedelta(microseconds=1)
_LOW = (datetime.datetime.min - _EPOCH) // _MICRO
_HIGH = (datetime.datetime.max - _EPOCH) // _MICRO

PARSER = ObservationParser(max_items=4)
EXTENDED = ObservationParser(derive_schema(RegeneratedMeta, RegeneratedPoint), max_items=4)


@st.composite
def rfc3339(draw: st.DrawFn) -> tuple[str, int | None]:
    """An RFC 3339 date-time in one of its spellings, and its µs since the epoch (None: out of range)."""
    naive = draw(
        st.datetimes(min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime.max)
    )
    digits = draw(st.sampled_from([0, 0, 1, 3, 6, 7, 9]))
    fraction = f"{naive.microsecond:06d}" + "".join(
        draw(st.lists(st.sampled_from("0123456789"), min_size=3, max_size=3))
    )
    if digits == 0:
        naive = naive.replace(microsecond=0)
    else:
        kept = fraction[:digits]
        naive = naive.replace(microsecond=int(kept[:6].ljust(6, "0")))
    offset_minutes = draw(
        st.sampled_from([0, 0, 60, -60, 330, -570, 23 * 60 + 59, -(23 * 60 + 59)])
    )
    if offset_minutes == 0 and draw(st.booleans()):
        zone = draw(st.sampled_from(["Z", "z"]))
    else:
        sign = "-" if offset_minutes < 0 else "+"
        zone = f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
    separator = draw(st.sampled_from(["T", "T", "t"]))
    text = naive.strftime(f"%Y-%m-%d{separator}%H:%M:%S").rjust(19, "0")
    text = f"{naive.year:04d}" + text[text.index("-") :]
    if digits:
        text += "." + fraction[:digits]
    text += zone
    micros = (naive - _EPOCH) // _MICRO - offset_minutes * 60_000_000
    return text, micros if _LOW <= micros <= _HIGH else None


BAD_INSTANTS = [
    "2024-04-01T00:00:00",  # no offset
    "2024-04-01 00:00:00Z",  # space separator
    "2024-04-01T00:00Z",  # no seconds
    "2024-04-01T00:00:00+0100",  # offset without colon
    "2024-02-30T00:00:00Z",  # no such day
    "2024-04-01T24:00:00Z",
    "2024-04-01T23:59:60Z",  # leap second
    "2024-04-01T00:00:00+24:00",
    "2024-04-01T00:00:00.Z",
    "20240401T000000Z",
    "2024-04-01",
    "",
    "\uff12\uff10\uff12\uff14-04-01T00:00:00Z",  # non-ASCII (full-width) digits
]


@given(rfc3339())
def test_parse_instant_matches_a_reference(case: tuple[str, int | None]) -> None:
    text, expected = case
    if expected is None:
        with pytest.raises(ValueError, match="out of range"):
            parse_instant(text)
    else:
        assert parse_instant(text) == expected


@given(rfc3339().filter(lambda case: case[1] is not None))
def test_stored_instants_are_answered_in_utc_and_mean_the_same(
    case: tuple[str, int | None],
) -> None:
    text, micros = case
    answered = format_instant(parse_instant(text))
    assert answered.endswith("Z")
    assert len(answered) in (20, 27)  # 2024-04-01T00:00:00Z, or with .ffffff
    assert parse_instant(answered) == micros


@pytest.mark.parametrize("text", BAD_INSTANTS)
def test_parse_instant_refuses_other_spellings(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text).replace("+", r"\+").replace(".", r"\.")):
        parse_instant(text)


def good_int() -> st.SearchStrategy[int]:
    return st.integers(min_value=INT64_MIN, max_value=INT64_MAX)


def maybe_bad(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``good``; one time in twelve ``bad``."""
    return st.integers(0, 11).flatmap(lambda roll: bad if roll == 0 else good)


ANY_BAD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
INSTANT = maybe_bad(
    rfc3339().map(lambda case: case[0]), st.one_of(st.sampled_from(BAD_INSTANTS), ANY_BAD)
)
TEXT = maybe_bad(st.text(min_size=1, max_size=6), st.one_of(st.just(""), ANY_BAD))
INT = maybe_bad(good_int(), ANY_BAD)


@st.composite
def observation_like(draw: st.DrawFn, extended: bool) -> Any:
    """Mostly valid observations, with wrong types, missing or unknown keys mixed in."""
    if draw(st.integers(0, 60)) == 0:
        return draw(ANY_BAD)
    meta = {
        "userId": draw(INT),
        "source": draw(TEXT),
        "metric": draw(st.sampled_from(["steps", "hr"])),
        "externalId": draw(TEXT),
        "batch": draw(maybe_bad(st.sampled_from(["b1", "b2"]), st.just(""))),
    }
    start = draw(INSTANT)
    end = draw(INSTANT) if draw(st.integers(0, 2)) == 0 else start  # equal times are valid
    point = {"start": start, "end": end, "value": draw(INT)}
    if extended:
        for key, values in (
            ("unit", st.one_of(st.sampled_from(["count", "bpm"]), ANY_BAD)),
            ("calibrated", st.one_of(st.sampled_from([True, False, None]), ANY_BAD)),
        ):
            if draw(st.booleans()):
                meta[key] = draw(values)
        for key, values in (
            ("quality", st.one_of(good_int(), ANY_BAD)),
            ("confidence", st.one_of(st.sampled_from([0.5, -0.0, 0.0, 1, 1.0]), ANY_BAD)),
            ("method", st.one_of(st.sampled_from(["manual", "auto"]), ANY_BAD)),
            ("checkedOn", st.one_of(st.sampled_from(["2024-04-02", "2024-02-30"]), ANY_BAD)),
        ):
            if draw(st.integers(0, 2)) == 0:
                point[key] = draw(values)
    item: dict[str, Any] = {"meta": meta, "point": point}
    for part in (meta, point, item):
        if draw(st.integers(0, 40)) == 0:
            del part[draw(st.sampled_from(sorted(part)))]
        if draw(st.integers(0, 40)) == 0:
            part[draw(st.sampled_from(["colour", "id", "userid"]))] = 1
    return item


def outcome(parser: ObservationParser, raw: bytes) -> ParsedObservations | tuple[int, str]:
    try:
        return parser.parse_precise(raw)
    except BodyRejected as exc:
        return exc.status, exc.code


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), extended=st.booleans())
def test_fast_and_precise_passes_agree(data: st.DataObject, extended: bool) -> None:
    parser = EXTENDED if extended else PARSER
    size = data.draw(st.sampled_from([0, 1, 1, 2, 2, 3, 3, 4, 5]))
    items = data.draw(st.lists(observation_like(extended), min_size=size, max_size=size))
    raw = json.dumps(items).encode()
    fast = parser.parse_fast(raw)
    precise = outcome(parser, raw)
    event(
        "stored"
        if fast is not None
        else f"refused {precise[:2] if isinstance(precise, tuple) else precise}"
    )
    if fast is not None:
        assert precise == fast
    else:
        assert isinstance(precise, tuple), (
            f"the fast pass refused a body the precise pass takes: {raw!r}"
        )
        assert precise[0] in (400, 413, 422)
    if len(items) > 4:
        assert precise == (413, "payload_too_large")
    if not items:
        assert precise == (422, "validation_error")


@st.composite
def valid_observation(draw: st.DrawFn) -> dict[str, Any]:
    start, start_us = draw(rfc3339().filter(lambda case: case[1] is not None))
    return {
        "meta": {
            "userId": draw(good_int()),
            "source": draw(st.text(min_size=1, max_size=8)),
            "metric": draw(st.sampled_from(["steps", "hr"])),
            "externalId": draw(st.text(min_size=1, max_size=8)),
            "batch": draw(st.sampled_from(["b1", "b2"])),
        },
        "point": {"start": start, "end": start, "value": draw(good_int())},
        "_start_us": start_us,
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(valid_observation(), min_size=1, max_size=4))
def test_valid_bodies_become_the_rows_they_mean(items: list[dict[str, Any]]) -> None:
    expected_us = [item.pop("_start_us") for item in items]
    raw = json.dumps(items, ensure_ascii=False).encode()
    parsed = PARSER.parse(raw)
    assert parsed.starts == expected_us
    assert parsed.ends == expected_us
    assert parsed.values == [item["point"]["value"] for item in items]
    metas = [
        (m["userId"], m["source"], m["metric"], m["externalId"], m["batch"], "")
        for m in (item["meta"] for item in items)
    ]
    assert [parsed.series[i] for i in parsed.series_index] == metas
    assert len(parsed.series) == len(set(metas))
    assert parsed.extras is None


def test_duplicate_keys_take_the_last_value_in_both_passes() -> None:
    raw = (
        b'[{"meta": {"userId": "x", "userId": 3, "source": "s", "metric": "m",'
        b' "externalId": "e", "batch": "b"}, "point": {"start": "2024-04-01T00:00:00Z",'
        b' "end": "2024-04-01T00:00:00Z", "value": 1}}]'
    )
    parsed = PARSER.parse(raw)
    assert parsed.series == [(3, "s", "m", "e", "b", "")]


def test_lone_surrogates_are_malformed_json() -> None:
    raw = json.dumps([{"meta": {"source": "\ud800"}}]).encode()
    with pytest.raises(BodyRejected) as caught:
        PARSER.parse(raw)
    assert (caught.value.status, caught.value.code) == (400, "invalid_json")


def test_problems_beyond_one_hundred_are_counted_not_listed() -> None:
    bad = {"meta": {}, "point": {}}
    parser = ObservationParser(max_items=5000)
    with pytest.raises(BodyRejected) as caught:
        parser.parse(json.dumps([bad] * 30).encode())
    assert caught.value.message == (
        "240 problem(s) in the observations; nothing was stored. The first 100 are listed."
    )
    assert len(caught.value.details) == 100
    assert caught.value.details[0] == {"index": 0, "field": "meta.userId", "message": "is required"}


LONG = ObservationParser(max_items=200)
LONG_EXTENDED = ObservationParser(derive_schema(RegeneratedMeta, RegeneratedPoint), max_items=200)


def _spelling(value: Any, variant: int) -> str:
    """One JSON text of ``value``: plain, compact, or with an object's keys reversed."""
    if variant == 1:
        return json.dumps(value, separators=(",", ":"))
    if variant == 2 and isinstance(value, dict):
        return json.dumps(dict(reversed(value.items())))
    return json.dumps(value)


@st.composite
def runs_body(draw: st.DrawFn, extended: bool) -> bytes:
    """A longer body in runs of one meta (spelt several ways), its times chained, equal or free.

    Exercises what the fast pass does with runs and repeated texts: equal
    neighbouring metas, equal metas written differently, each observation
    starting where the previous ended (or ending where it starts).
    """
    valid = valid_observation().map(lambda item: {k: v for k, v in item.items() if k[0] != "_"})
    pool = draw(
        st.lists(
            st.integers(0, 3).flatmap(lambda roll: valid if roll else observation_like(extended)),
            min_size=1,
            max_size=3,
        )
    )
    good = draw(
        st.lists(rfc3339().filter(lambda case: case[1] is not None), min_size=2, max_size=6)
    )
    times = [text for text, _ in sorted(good, key=lambda case: case[1])]  # in time order
    if draw(st.integers(0, 3)) == 0:
        times.insert(draw(st.integers(0, len(times))), draw(INSTANT))  # maybe a bad one
    mode = draw(st.sampled_from(["chained", "chained", "instant", "free"]))
    texts: list[str] = []
    position = 0
    backward_at = draw(st.integers(0, 300))  # at most one step back in time, seldom
    for _ in range(draw(st.integers(1, 6))):
        item = draw(st.sampled_from(pool))
        variant = draw(st.integers(0, 2))
        for _ in range(draw(st.integers(1, 25))):
            if not (isinstance(item, dict) and isinstance(item.get("point"), dict)):
                texts.append(json.dumps(item))
                continue
            point = dict(item["point"])
            if mode == "chained":  # each starts where the previous ended
                step = -1 if len(texts) == backward_at else draw(st.sampled_from([0, 1, 1]))
                following = min(max(position + step, 0), len(times) - 1)
                point["start"], point["end"] = times[position], times[following]
                position = following
            elif mode == "instant":
                point["start"] = point["end"] = draw(st.sampled_from(times))
            else:
                point["start"] = draw(st.sampled_from(times))
                point["end"] = draw(st.sampled_from(times))
            parts = [f'"{k}": {_spelling(v, variant)}' for k, v in item.items() if k != "point"]
            texts.append("{" + ", ".join([*parts, f'"point": {json.dumps(point)}']) + "}")
    return ("[" + ",".join(texts) + "]").encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), extended=st.booleans())
def test_fast_pass_on_runs_agrees_with_the_precise_pass(
    data: st.DataObject, extended: bool
) -> None:
    """Bodies in runs (the fast pass's shortcuts) give exactly the precise pass's rows or None."""
    parser = LONG_EXTENDED if extended else LONG
    raw = data.draw(runs_body(extended))
    fast = parser.parse_fast(raw)
    precise = outcome(parser, raw)
    event("stored" if fast is not None else "refused")
    if fast is not None:
        assert precise == fast
        assert len(fast) == len(json.loads(raw))
    else:
        assert isinstance(precise, tuple), (
            f"the fast pass refused a body the precise pass takes: {raw!r}"
        )
