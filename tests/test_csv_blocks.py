"""A CSV file is read in blocks split by ``str.split``; what it gives is what the csv module gives.

``_CsvReading.take`` splits quote-free blocks of lines itself (a
:class:`~genomcore_sdk.csv_batch.CellBlock`) and hands the rest of the file to
the csv module from the first quote or lone CR on. For any text, with any
block size and any batch sizes, the rows, their file line numbers and the
errors must be exactly those of reading the whole file with ``csv.reader``
(the reader the upload used before blocks).
"""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genomcore_sdk import sources
from genomcore_sdk.csv_batch import CellBlock
from genomcore_sdk.sources import CsvFileSource, CsvSyntaxError
from genomcore_sdk.validation import ObservationEncoder

ENCODER = ObservationEncoder()
HEADER = list(ENCODER.schema.columns())  # the layout itself is tested in test_sources.py
ROW = "1,w,steps,E,b,2024-04-01T00:00:00Z,2024-04-01T00:00:30Z,5"


def csv_module_reading(
    text: str, delimiter: str, sizes: list[int]
) -> tuple[list[list[str]], list[int | None], bool]:
    """Rows, their lines and whether it failed, as csv.reader over the whole body reads them.

    Every row before an unreadable one is read, whatever the batch sizes: a batch that
    meets the error hands on the rows before it, and the next batch raises.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    lines: list[int | None] = []
    while True:
        line = reader.line_num + 2  # the header is line 1
        try:
            cells = next(reader)
        except StopIteration:
            return rows, lines, False
        except csv.Error:
            return rows, lines, True
        rows.append(cells)
        lines.append(line)


def block_reading(
    path: Path, sizes: list[int]
) -> tuple[list[list[str]], list[int | None], bool, int]:
    """The same through the upload's reading; also how many rows came in CellBlocks."""
    rows: list[list[str]] = []
    lines: list[int | None] = []
    in_blocks = 0
    with CsvFileSource(path).open(ENCODER) as reading:
        for size in itertools.cycle(sizes):
            mark = reading.mark()
            try:
                batch = reading.take(size)
            except CsvSyntaxError:
                return rows, lines, True, in_blocks
            if not batch:
                return rows, lines, False, in_blocks
            assert len(batch) <= size
            if isinstance(batch, CellBlock):
                in_blocks += len(batch)
            rows.extend(list(cells) for cells in batch)
            lines.extend(reading.line_numbers(batch, mark))
    raise AssertionError("unreachable")


cells = st.text(alphabet='ab 1,;\t"\r\n\x00é', max_size=6)
plain_cells = st.text(alphabet="ab 1-:T", min_size=1, max_size=5)


@st.composite
def bodies(draw: st.DrawFn) -> str:
    """CSV bodies: mostly rows of the header's width, with line breaks, quotes, CRs and blanks."""
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    parts: list[str] = []
    for _ in range(draw(st.integers(min_value=0, max_value=12))):
        kind = draw(st.sampled_from(["plain", "plain", "plain", "wide", "blank", "noise"]))
        if kind == "plain":
            row = draw(st.lists(plain_cells, min_size=8, max_size=8))
        elif kind == "wide":
            row = draw(st.lists(plain_cells, min_size=1, max_size=10))
        elif kind == "blank":
            row = []
        else:
            row = draw(st.lists(cells, min_size=1, max_size=9))
        parts.append(delimiter.join(row) + draw(st.sampled_from(["\n", "\r\n", "\n", "\r"])))
    body = "".join(parts)
    if draw(st.booleans()):
        body = body.rstrip("\r\n")  # no line end after the last line
    return delimiter + body


@settings(
    max_examples=400,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    bodies(),
    st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=4),
    st.integers(min_value=1, max_value=40),
)
def test_blocks_read_what_the_csv_module_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marked: str, sizes: list[int], block: int
) -> None:
    delimiter, body = marked[0], marked[1:]
    monkeypatch.setattr(sources, "_BLOCK_BYTES", block)
    path = tmp_path / "random.csv"
    path.write_bytes((delimiter.join(HEADER) + "\r\n" + body).encode("utf-8"))
    rows, lines, failed, _ = block_reading(path, sizes)
    assert (rows, lines, failed) == csv_module_reading(body, delimiter, sizes)


def test_plain_files_come_in_cell_blocks_and_a_quote_hands_over_to_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "_BLOCK_BYTES", 10_000)  # about 170 lines
    path = tmp_path / "mixed.csv"
    plain = [ROW] * 2500
    quoted = ['1,w,steps,"E, with a comma",b,2024-04-01T00:00:00Z,2024-04-01T00:00:30Z,5']
    path.write_text(",".join(HEADER) + "\r\n" + "\r\n".join(plain + quoted + plain) + "\r\n")
    rows, lines, failed, in_blocks = block_reading(path, [1000])
    assert not failed
    assert len(rows) == 5001
    # blocks before the quote are split by str.split; from its block on, csv reads
    assert in_blocks == 2000  # the third batch mixes split rows and csv rows: a list
    assert rows[2500][3] == "E, with a comma"
    assert rows[0] == rows[-1] == ROW.split(",")
    assert lines[:3] == [2, 3, 4]
    assert lines[-1] == 5002


def test_cell_block_is_a_sequence_of_decoded_rows_and_of_bytes_columns() -> None:
    block = CellBlock([str(i).encode() for i in range(11)] + [b"\xff"], 4)
    assert len(block) == 3
    assert block[0] == ["0", "1", "2", "3"]
    assert block[-1] == ["8", "9", "10", "\udcff"]  # undecodable bytes become surrogates
    assert list(block[1:]) == [["4", "5", "6", "7"], block[-1]]
    assert list(block[::2]) == [block[0], block[2]]
    assert list(block[2:1]) == []
    assert list(block) == [block[0], block[1], block[2]]
    assert block.column(2) == [b"2", b"6", b"10"]
    with pytest.raises(IndexError):
        block[3]
    with pytest.raises(ValueError, match="11 cells do not make rows of 4"):
        CellBlock([b"x"] * 11, 4)


def test_cell_blocks_join_and_slice_as_views_of_their_rows() -> None:
    first = CellBlock([b"a", b"1", b"\n", b"b", b"2", b"\n", b"c", b"3", b"\n"], 2, 3)
    second = CellBlock([b"d", b"4", b"\n"], 2, 3)
    joined = CellBlock.concat([first[1:], second, first[:1]])
    assert [row[0] for row in joined] == ["b", "c", "d", "a"]
    assert joined.column(1) == [b"2", b"3", b"4", b"1"]
    assert joined[2] == ["d", "4"] and joined[-1] == ["a", "1"]
    middle = joined[1:3]
    assert len(middle) == 2 and middle.column(0) == [b"c", b"d"]
    assert len(joined[4:]) == 0 and joined[4:].column(0) == []
    with pytest.raises(ValueError, match="one width and stride"):
        CellBlock.concat([first, CellBlock([b"x", b"y"], 2)])
