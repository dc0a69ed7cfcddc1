"""Hostile but realistic input found by attacking the CSV upload: each is refused clearly.

Every case here was once accepted, mangled or crashed: an instant that falls
outside the years 0001-9999 in UTC (accepted, then refused by the server
halfway through an upload), a quote never closed in a large file (a raw
``_csv.Error``), text glued after a closing quote (silently joined into the
cell), a rejects file pointed at the input (which overwrote it), a row with
more cells than the header (its surplus cells dropped from the rejects file).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from genomcore_sdk import (
    ConfigurationError,
    GenomcoreApiClient,
    InputFormatError,
    ObservationValidationError,
    sources,
)
from genomcore_sdk.emulator import Emulator
from genomcore_sdk.prepare import prepare_input
from genomcore_sdk.sources import CsvFileSource
from genomcore_sdk.validation import ObservationEncoder, RowProblem

HEADER = "meta.userId,meta.source,meta.metric,meta.externalId,meta.batch,point.start,point.end,point.value"


def good_row(i: int) -> str:
    minute = f"{i // 60 % 60:02d}:{i % 60:02d}"
    return f"1,watch,steps,W-1,hostile,2024-04-01T00:{minute}Z,2024-04-01T00:{minute}Z,{i}"


def write(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00+01:00"),
        ("9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59-01:00"),
    ],
)
def test_an_instant_outside_the_utc_years_is_refused_before_anything_is_sent(
    client: GenomcoreApiClient, emulator: Emulator, tmp_path: Path, start: str, end: str
) -> None:
    rows = [good_row(i) for i in range(3000)]
    rows[2500] = f"1,watch,steps,W-1,hostile,{start},{end},12"
    path = write(tmp_path / "edge.csv", rows)
    with pytest.raises(ObservationValidationError) as caught:
        client.time_series.create_time_series(path)
    problem = caught.value.problems[0]
    assert (problem.index, problem.line, problem.field) == (2500, 2502, "point.start")
    assert "outside the years 0001 to 9999 once converted to UTC" in problem.message
    assert emulator.state.store.count() == 0


def test_an_instant_outside_the_utc_years_is_refused_in_every_input_form() -> None:
    encoder = ObservationEncoder()
    meta = {"userId": 1, "source": "s", "metric": "m", "externalId": "e", "batch": "b"}
    for moment in ("0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"):
        with pytest.raises(RowProblem, match="once converted to UTC"):
            encoder.encode({"meta": meta, "point": {"start": moment, "end": moment, "value": 1}})
    with pytest.raises(RowProblem, match="once converted to UTC"):
        ObservationEncoder(assume_timezone="America/New_York").encode(
            {
                "meta": meta,
                "point": {"start": "9999-12-31T23:30:00", "end": "9999-12-31T23:30:00", "value": 1},
            }
        )
    # the same years with offsets that keep them in range are fine, and sent as written
    fine = "0001-01-01T00:30:00-01:00"
    body = encoder.encode({"meta": meta, "point": {"start": fine, "end": fine, "value": 1}})
    assert orjson.loads(body)["point"]["start"] == fine


def test_a_quote_that_never_closes_in_a_large_file_names_its_line(
    client: GenomcoreApiClient, emulator: Emulator, tmp_path: Path
) -> None:
    rows = [good_row(i) for i in range(5000)]
    rows[100] = '1,"watch,steps,W-1,hostile,2024-04-01T00:00:00Z,2024-04-01T00:00:00Z,1'
    path = write(tmp_path / "unclosed.csv", rows)
    with pytest.raises(InputFormatError) as caught:
        client.time_series.create_time_series(path, on_invalid="skip")
    message = str(caught.value)
    assert "cannot be read from line 102" in message
    assert "a quote opens there and never closes" in message
    assert message.endswith("Nothing was sent.")
    assert emulator.state.store.count() == 0


def test_a_quote_that_closes_at_the_end_of_the_file_names_its_line(tmp_path: Path) -> None:
    rows = [good_row(i) for i in range(5)]
    rows[3] = '1,"watch,steps,W-1,hostile,2024-04-01T00:00:00Z,2024-04-01T00:00:00Z,1'
    path = write(tmp_path / "unclosed.csv", rows)
    with (
        GenomcoreApiClient(token="t", base_url="http://127.0.0.1:9") as api,
        pytest.raises(InputFormatError, match="cannot be read from line 5: a quote opens there"),
    ):
        api.time_series.create_time_series(path)


def test_text_after_a_closing_quote_is_refused_not_glued_to_the_cell(
    client: GenomcoreApiClient, emulator: Emulator, tmp_path: Path
) -> None:
    rows = [good_row(i) for i in range(3)]
    rows[1] = '1,watch,steps,"W-1"7,hostile,2024-04-01T00:01:00Z,2024-04-01T00:02:00Z,"1"2'
    path = write(tmp_path / "glued.csv", rows)
    with pytest.raises(InputFormatError) as caught:
        client.time_series.create_time_series(path)
    message = str(caught.value)
    assert "cannot be read from line 3: a quoted cell is followed by more text" in message
    assert 'write a quote inside it twice: "W-1""7" is the cell W-1"7' in message
    assert emulator.state.store.count() == 0


@pytest.mark.parametrize("option", ["rejects_path", "failed_rows_path", "journal"])
def test_an_output_file_that_is_the_input_is_refused_and_the_input_kept(
    client: GenomcoreApiClient, emulator: Emulator, tmp_path: Path, option: str
) -> None:
    path = write(tmp_path / "data.csv", [good_row(i) for i in range(10)])
    before = path.read_bytes()
    alias = tmp_path / "." / "data.csv"  # another spelling of the same file
    with pytest.raises(ConfigurationError, match=rf"{option}=.* is the CSV file being uploaded"):
        client.time_series.create_time_series(path, on_invalid="skip", **{option: alias})
    assert path.read_bytes() == before
    assert emulator.state.store.count() == 0


def test_two_outputs_on_one_file_are_refused(client: GenomcoreApiClient, tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", [good_row(0)])
    with pytest.raises(ConfigurationError, match=r"failed_rows_path=.* is rejects_path"):
        client.time_series.create_time_series(
            path, rejects_path=tmp_path / "out.csv", failed_rows_path=tmp_path / "out.csv"
        )


def test_the_rejects_file_keeps_the_cells_beyond_the_header(
    client: GenomcoreApiClient, emulator: Emulator, tmp_path: Path
) -> None:
    rows = [good_row(i) for i in range(4)]
    rows[1] = "1,wat,ch,steps,W-1,hostile,2024-04-01T00:02:00Z,2024-04-01T00:03:00Z,2"
    rows[2] = good_row(2) + ",EXTRA1,EXTRA2"
    path = write(tmp_path / "wide.csv", rows)
    rejects = tmp_path / "rejects.csv"
    report = client.time_series.create_time_series(path, on_invalid="skip", rejects_path=rejects)
    assert (report.stored, report.rejected) == (2, 2)
    with rejects.open(newline="", encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert [json.loads(r["extra_cells"]) for r in written] == [["2"], ["EXTRA1", "EXTRA2"]]
    assert [r["point.value"] for r in written] == ["2024-04-01T00:03:00Z", "2"]
    assert [r["line"] for r in written] == ["3", "4"]
    assert emulator.state.store.count() == 2


@pytest.mark.parametrize(
    ("column", "fix"),
    [
        (0, "meta.userId is empty; it must be an integer, e.g. 12"),
        (5, "point.start is empty; it must be a date-time, e.g. '2015-07-04T09:45:00+01:00'"),
        (7, "point.value is empty; it must be an integer, e.g. 12"),
        (1, "meta.source is empty; it must be a non-empty string"),
    ],
)
def test_an_empty_cell_gets_the_fix_of_its_type(column: int, fix: str) -> None:
    cells = good_row(0).split(",")
    cells[column] = ""
    with pytest.raises(RowProblem) as caught:
        ObservationEncoder().csv_row_encoder(HEADER.split(",")).encode(cells)
    assert caught.value.message == fix


def test_a_lowercase_z_is_read_as_utc() -> None:
    cells = good_row(0).split(",")
    cells[5] = "2024-04-01T00:00:00z"
    sent = orjson.loads(ObservationEncoder().csv_row_encoder(HEADER.split(",")).encode(cells))
    assert sent["point"]["start"] == "2024-04-01T00:00:00+00:00"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le"])
def test_utf16_or_utf32_without_a_byte_order_mark_is_named(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "wide.csv"
    path.write_bytes((HEADER + "\n" + good_row(0) + "\n").encode(encoding))
    with (
        GenomcoreApiClient(token="t", base_url="http://127.0.0.1:9") as api,
        pytest.raises(InputFormatError, match="UTF-16 or UTF-32 text without a byte-order mark"),
    ):
        api.time_series.create_time_series(path)


def test_a_local_mean_time_offset_is_shown_as_an_offset() -> None:
    cells = good_row(0).split(",")
    cells[5] = cells[6] = "1800-06-01T12:00:00"
    with pytest.raises(RowProblem) as caught:
        ObservationEncoder(assume_timezone="Europe/Madrid").csv_row_encoder(
            HEADER.split(",")
        ).encode(cells)
    assert "has a UTC offset with seconds (-00:14:44)" in caught.value.message


def test_rows_merged_into_one_cell_by_a_stray_quote_are_refused(
    client: GenomcoreApiClient, emulator: Emulator, sample_csv: Path, tmp_path: Path
) -> None:
    lines = sample_csv.read_text(encoding="utf-8").splitlines()
    lines[99] = lines[99].replace(",TEST_SAMPLE_UK,", ',"TEST_SAMPLE_UK,')  # file line 100
    lines[102] = lines[102].replace(",TEST_SAMPLE_UK,", ',TEST_SAMPLE_UK",')  # file line 103
    path = tmp_path / "stray.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ObservationValidationError) as caught:
        client.time_series.create_time_series(path)
    problem = caught.value.problems[0]
    assert (problem.index, problem.line, problem.field) == (98, 100, "meta.externalId")
    assert "a quote opened in this row and closed in a later one" in problem.message
    assert emulator.state.store.count() == 0


def test_a_quoted_cell_with_a_line_break_is_still_taken_as_written() -> None:
    header = HEADER.split(",")
    cells = good_row(0).split(",")
    cells[3] = "W-1\nsecond line, with a comma"
    sent = orjson.loads(ObservationEncoder().csv_row_encoder(header).encode(cells))
    assert sent["meta"]["externalId"] == "W-1\nsecond line, with a comma"


@pytest.mark.parametrize("shift", range(-3, 4))
def test_a_crlf_cut_by_the_first_block_keeps_the_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shift: int
) -> None:
    """The header's read ends between the CR and LF of a line end (a quote before, so the csv
    module reads on from the first block): the invalid row's line is still csv's line."""
    block = 512
    monkeypatch.setattr(sources, "_BLOCK_BYTES", block)
    body = HEADER + "\r\n" + good_row(0).replace("watch", '"watch"') + "\r\n"
    number = 1
    while len(body) + 2 * len(good_row(number)) < block:
        body += good_row(number) + "\r\n"
        number += 1
    padding = block - 1 + shift - len(body) - len(good_row(number))
    body += good_row(number).replace("W-1", "W-1" + "x" * padding) + "\r\n"
    body += good_row(number + 1) + "\r\n" + good_row(number + 2).replace("watch", "") + "\r\n"
    path = tmp_path / "crlf.csv"
    path.write_bytes(body.encode())
    if shift == 0:
        assert body[block - 1 : block + 1] == "\r\n"  # the case: a CRLF cut by the block
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        expected = next(reader.line_num for cells in reader if cells[1] == "")
    with pytest.raises(ObservationValidationError) as caught:
        prepare_input(CsvFileSource(path), ObservationEncoder(), chunksize=7)
    assert caught.value.problems[0].line == expected == number + 4


def prepare_skipping(path: Path, rejects: Path, chunksize: int = 10) -> Any:
    """Pass one of a CSV file with ``on_invalid="skip"`` (its spool closed at once)."""
    prepared = prepare_input(
        CsvFileSource(path),
        ObservationEncoder(),
        chunksize=chunksize,
        on_invalid="skip",
        rejects_path=rejects,
    )
    prepared.close()
    return prepared


def test_rejected_extra_cells_that_are_not_utf8_are_kept_as_bytes(tmp_path: Path) -> None:
    """A rejected row's cells beyond the header, one of them Latin-1, land in the rejects file
    with the very bytes of the input (no crash, nothing re-encoded)."""
    path = tmp_path / "latin.csv"
    path.write_bytes(
        (HEADER + "\n" + good_row(0) + "\n").encode() + good_row(1).encode() + b",caf\xe9\n"
    )
    rejects = tmp_path / "rejects.csv"
    prepared = prepare_skipping(path, rejects)
    assert (prepared.rows, prepared.rejected) == (1, 1)
    written = rejects.read_bytes().split(b"\n")[1]
    assert written.endswith(b',"[""caf\xe9""]"')


def test_a_cell_with_a_lone_cr_is_quoted_in_the_rejects_file(tmp_path: Path) -> None:
    """A quoted cell holding a lone CR is written quoted, so the file reads back with the cell."""
    bad = good_row(1).replace("watch", '"wa\rtch"').replace(",1", ",x")
    path = write(tmp_path / "cr.csv", [good_row(0), bad])
    rejects = tmp_path / "rejects.csv"
    assert prepare_skipping(path, rejects).rejected == 1
    with rejects.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 2
    assert rows[1][:3] == ["1", "wa\rtch", "steps"] and rows[1][7] == "x"


def test_query_csv_output_quotes_a_cell_with_a_lone_cr() -> None:
    """``ts query --format csv`` writes a stored source holding a CR so that it reads back whole."""
    import io

    from genomcore_sdk.cli.query_output import CsvWriter

    out = io.StringIO()
    writer = CsvWriter(out)
    for source in ("watch", "wa\rtch"):
        writer.write(
            {
                "meta": {
                    "userId": 1,
                    "source": source,
                    "metric": "steps",
                    "externalId": "W-1",
                    "batch": "b",
                },
                "point": {
                    "start": "2024-04-01T00:00:00Z",
                    "end": "2024-04-01T00:00:30Z",
                    "value": 5,
                },
            }
        )
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert [r[1] for r in rows] == ["meta.source", "watch", "wa\rtch"]
    assert out.getvalue().count("\n") == 3


@pytest.mark.parametrize("chunksize", [1, 2, 3, 1000])
@pytest.mark.parametrize("unreadable", ['"w', "x" * 200_000])
def test_an_invalid_row_before_an_unreadable_line_is_the_error_whatever_the_chunksize(
    tmp_path: Path, chunksize: int, unreadable: str
) -> None:
    """The first problem in the file is reported: the invalid row on line 3, not the quote
    that never closes (or the line over the field size limit) on line 5."""
    rows = [good_row(0), good_row(1).replace("watch", ""), good_row(2), good_row(3)]
    rows[3] = rows[3].replace("watch", unreadable)
    path = write(tmp_path / "order.csv", rows)
    with pytest.raises(ObservationValidationError) as caught:
        prepare_input(CsvFileSource(path), ObservationEncoder(), chunksize=chunksize)
    assert (caught.value.problems[0].line, caught.value.problems[0].field) == (3, "meta.source")
    # the rows before it in skip mode: rejected, then the unreadable line stops the upload
    with pytest.raises(InputFormatError, match="cannot be read from line 5"):
        prepare_skipping(path, tmp_path / "rejects.csv", chunksize)
    assert len(list(csv.reader((tmp_path / "rejects.csv").open(newline="")))) == 2
