"""The batch path of a CSV upload vouches only for valid rows, and encodes them as the row encoder does.

``CsvBatchCodec`` never decides that a row is invalid: when it answers
"valid" (``check`` is True, ``encode`` returns bytes), every row of the batch
must be accepted by the row encoder, and the body must be byte for byte the
row encoder's JSON of each row. Random batches mix valid rows with rows whose
cells are near misses (digits in the right places but an impossible day,
hour or offset, canonical-looking integers out of range, text JSON must
escape, ...), so that both answers are exercised.
"""

from __future__ import annotations

import csv
import datetime
import itertools
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genomcore_sdk.csv_batch import CsvBatchCodec
from genomcore_sdk.sources import to_cells
from genomcore_sdk.validation import ObservationEncoder, RowProblem
from genomcore_sdk.wire_schema import Kind, observation_schema
from tests.test_validation_properties import valid_observations

SCHEMA = observation_schema()
COLUMNS = list(SCHEMA.columns())
KINDS = {f.path: f.kind for f in SCHEMA.leaves()}
ENCODER = ObservationEncoder()


def codec_for(header: list[str]) -> tuple[CsvBatchCodec, Any]:
    row_encoder = ENCODER.csv_row_encoder(header)
    codec = CsvBatchCodec.for_rows(row_encoder)
    assert codec is not None
    return codec, row_encoder


def row_verdicts(row_encoder: Any, rows: list[list[str]]) -> list[bytes | None]:
    verdicts: list[bytes | None] = []
    for row in rows:
        try:
            verdicts.append(row_encoder.encode(row))
        except RowProblem:
            verdicts.append(None)
    return verdicts


digits = st.text(alphabet="0123456789", min_size=1, max_size=2)
near_moments = st.builds(
    lambda y, mo, d, h, mi, s, tail: f"{y}-{mo}-{d}T{h}:{mi}:{s}{tail}",
    st.sampled_from(["0000", "0001", "1999", "2000", "2015", "2023", "2024", "9999"]),
    st.sampled_from(["00", "01", "02", "04", "06", "09", "11", "12", "13"]),
    st.sampled_from(["00", "01", "28", "29", "30", "31", "32"]),
    st.sampled_from(["00", "09", "23", "24"]),
    st.sampled_from(["00", "45", "59", "60"]),
    st.sampled_from(["00", "30", "59", "60"]),
    st.sampled_from(
        [
            "Z",
            "z",
            "+00:00",
            "-00:00",
            "+01:00",
            "-05:30",
            "+23:59",
            "+24:00",
            "+01:60",
            "",
            "+0100",
        ]
    ),
)
near_ints = st.one_of(
    st.integers(min_value=-(10**19), max_value=10**19).map(str),
    st.sampled_from(["-0", "007", "+5", "1.0", "12.5", " 3", "١٢", "9223372036854775808"]),
)


def near_cell(kind: Kind) -> st.SearchStrategy[str]:
    if kind is Kind.INT:
        return near_ints
    if kind is Kind.DATETIME:
        return st.one_of(near_moments, st.text(max_size=30))
    return st.one_of(
        st.text(max_size=12),
        st.sampled_from(["", " ", 'say "hi"', "back\\slash", "tab\there", "\udcff", "caf\u00e9"]),
    )


@st.composite
def rows(draw: st.DrawFn) -> list[str]:
    cells = to_cells(SCHEMA, draw(valid_observations()))
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        position = draw(st.integers(min_value=0, max_value=len(cells) - 1))
        cells[position] = draw(near_cell(KINDS[COLUMNS[position]]))
    return cells


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rows(), min_size=1, max_size=6), st.permutations(range(len(COLUMNS))))
def test_the_batch_path_vouches_only_for_valid_rows_and_encodes_them_as_rows(
    batch: list[list[str]], order: list[int]
) -> None:
    header = [COLUMNS[i] for i in order]
    shuffled = [[row[i] for i in order] for row in batch]
    codec, row_encoder = codec_for(header)
    verdicts = row_verdicts(row_encoder, shuffled)
    body = codec.encode(shuffled)
    assert codec.check(shuffled) is (body is not None)
    if body is not None:
        assert None not in verdicts, "the batch path accepted a row the row encoder refuses"
        assert body == b"[" + b",".join(v for v in verdicts if v is not None) + b"]"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rows(), min_size=1, max_size=4))
def test_each_near_miss_cell_alone_is_judged_like_the_row_encoder_or_left_to_it(
    batch: list[list[str]],
) -> None:
    codec, row_encoder = codec_for(COLUMNS)
    for row in batch:
        single = [row]
        verdict = row_verdicts(row_encoder, single)[0]
        body = codec.encode(single)
        if body is not None:
            assert body == b"[" + (verdict or b"<refused>") + b"]"


def _usual_row(rng: random.Random, offset: str) -> list[str]:
    start = datetime.datetime(2024, 1, 1) + datetime.timedelta(
        seconds=rng.randrange(0, 3 * 365 * 86400)
    )
    end = start + datetime.timedelta(seconds=rng.randrange(0, 3600))
    return [
        str(rng.randrange(-(2**62), 2**62)),
        rng.choice(["watch", "ring", "caf\u00e9-band"]),
        rng.choice(["steps", "hr"]),
        f"E-{rng.randrange(100)}",
        rng.choice(["b1", "b2"]),
        start.strftime("%Y-%m-%dT%H:%M:%S") + offset,
        end.strftime("%Y-%m-%dT%H:%M:%S") + offset,
        str(rng.randrange(-1000, 10**9)),
    ]


@pytest.mark.parametrize("offset", ["Z", "+01:00", "-05:30"])
def test_usual_batches_take_the_batch_path_with_the_row_encoders_bytes(offset: str) -> None:
    rng = random.Random(offset)
    codec, row_encoder = codec_for(COLUMNS)
    batch = [_usual_row(rng, offset) for _ in range(500)]
    verdicts = row_verdicts(row_encoder, batch)
    assert None not in verdicts
    assert codec.encode(batch) == b"[" + b",".join(v for v in verdicts if v is not None) + b"]"


def test_mixed_offsets_compare_instants_not_text() -> None:
    codec, row_encoder = codec_for(COLUMNS)
    meta = ["1", "watch", "steps", "E", "b"]
    # 10:00+02:00 is 08:00Z: an end at 09:00Z is after it, though its text sorts before
    later = [*meta, "2024-05-01T10:00:00+02:00", "2024-05-01T09:00:00Z", "5"]
    # 10:00Z is after 11:00+02:00 (09:00Z): end before start, though its text sorts after
    earlier = [*meta, "2024-05-01T10:00:00Z", "2024-05-01T11:00:00+02:00", "5"]
    assert codec.check([later]) is True
    assert row_verdicts(row_encoder, [later])[0] is not None
    assert codec.check([earlier]) is False
    assert row_verdicts(row_encoder, [earlier]) == [None]
    assert codec.check([later, earlier]) is False


@pytest.mark.parametrize(
    ("position", "cell"),
    [
        (0, "12.5"),  # not an integer
        (0, "-0"),  # not canonical
        (7, "9223372036854775808"),  # beyond int64 (and beyond the path's 18 digits)
        (1, ""),  # empty text
        (2, 'a"b'),  # text JSON must escape
        (5, "2024-02-30T00:00:00Z"),  # no such day
        (5, "2023-02-29T00:00:00Z"),  # not a leap year
        (5, "2024-05-01T00:00:00"),  # no offset
        (5, "2024-05-01 00:00:00Z"),  # another separator (the row encoder rewrites it)
        (6, "2024-05-01T00:00:00+24:00"),  # no such offset
    ],
)
def test_unusual_cells_are_left_to_the_row_encoder(position: int, cell: str) -> None:
    codec, _ = codec_for(COLUMNS)
    row = ["1", "watch", "steps", "E", "b", "2024-05-01T00:00:00Z", "2024-05-01T00:00:30Z", "5"]
    assert codec.check([row]) is True
    row[position] = cell
    assert codec.check([row]) is False
    assert codec.encode([row]) is None


def test_the_29th_of_february_of_a_leap_year_takes_the_batch_path() -> None:
    codec, row_encoder = codec_for(COLUMNS)
    row = ["1", "watch", "steps", "E", "b", "2024-02-29T23:59:30Z", "2024-03-01T00:00:00Z", "5"]
    assert codec.encode([row]) == b"[" + row_encoder.encode(row) + b"]"


def test_a_row_of_another_width_or_a_blank_line_is_left_to_the_row_encoder() -> None:
    codec, _ = codec_for(COLUMNS)
    row = ["1", "watch", "steps", "E", "b", "2024-05-01T00:00:00Z", "2024-05-01T00:00:30Z", "5"]
    assert codec.check([row, []]) is False
    assert codec.check([row, [*row, "extra"]]) is False
    assert codec.check([]) is False


def test_the_real_sample_goes_through_the_batch_path_chunk_by_chunk(sample_csv: Path) -> None:
    with sample_csv.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        codec, row_encoder = codec_for(next(reader))
        chunks = 0
        while batch := list(itertools.islice(reader, 1000)):
            verdicts = row_verdicts(row_encoder, batch)
            assert codec.encode(batch) == b"[" + b",".join(v for v in verdicts if v) + b"]"
            chunks += 1
    assert chunks == 41
