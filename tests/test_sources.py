"""Input readers: CSV files as spreadsheets save them, DataFrames, and their errors."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from genomcore_sdk import GenomcoreApiClient, InputFormatError, ObservationValidationError
from genomcore_sdk.emulator import Emulator
from genomcore_sdk.sources import open_source
from genomcore_sdk.validation import ObservationEncoder, RowProblem

HEADER = [
    "meta.userId",
    "meta.source",
    "meta.metric",
    "meta.externalId",
    "meta.batch",
    "point.start",
    "point.end",
    "point.value",
]


def row(i: int, *, source: str = "watch", value: str | None = None) -> list[str]:
    return [
        "1",
        source,
        "steps",
        "W-1",
        "b1",
        f"2024-04-01T00:{i:02d}:00+02:00",
        f"2024-04-01T00:{i:02d}:30+02:00",
        str(i) if value is None else value,
    ]


def expected(i: int, *, source: str = "watch") -> dict[str, Any]:
    return {
        "meta": {
            "userId": 1,
            "source": source,
            "metric": "steps",
            "externalId": "W-1",
            "batch": "b1",
        },
        "point": {
            "start": f"2024-04-01T00:{i:02d}:00+02:00",
            "end": f"2024-04-01T00:{i:02d}:30+02:00",
            "value": i,
        },
    }


def write_csv(
    path: Path,
    rows: list[list[str]],
    *,
    delimiter: str = ",",
    bom: bool = False,
    newline: str = "\n",
    quote_all: bool = False,
    encoding: str = "utf-8",
    header: list[str] = HEADER,
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=delimiter,
        lineterminator=newline,
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
    )
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding)
    if bom and encoding == "utf-8":
        data = codecs.BOM_UTF8 + data
    path.write_bytes(data)
    return path


def read_all(path: Path, encoder: ObservationEncoder | None = None) -> list[tuple[int | None, Any]]:
    encoder = encoder or ObservationEncoder()
    with open_source(path).open(encoder) as reading:
        return [(line, orjson.loads(reading.encode(cells))) for line, cells in reading.rows()]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("quote_all", [False, True])
def test_csv_dialects_read_the_same(
    tmp_path: Path, delimiter: str, bom: bool, newline: str, quote_all: bool
) -> None:
    path = write_csv(
        tmp_path / "obs.csv",
        [row(i) for i in range(3)],
        delimiter=delimiter,
        bom=bom,
        newline=newline,
        quote_all=quote_all,
    )
    assert read_all(path) == [(2, expected(0)), (3, expected(1)), (4, expected(2))]


def test_utf16_tab_delimited_as_excel_unicode_text(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "obs.txt",
        [row(0, source="Montre-bracelet é")],
        delimiter="\t",
        newline="\r\n",
        encoding="utf-16",
    )
    assert path.read_bytes()[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    assert read_all(path) == [(2, expected(0, source="Montre-bracelet é"))]


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-be-bom"])
def test_utf32_with_a_byte_order_mark(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "obs.csv"
    text = "\r\n".join([",".join(HEADER), ",".join(row(0, source="é")), ",".join(row(1))])
    if encoding == "utf-32":  # little-endian on this machine: its BOM starts like UTF-16 LE's
        path.write_bytes(text.encode("utf-32"))
    else:
        path.write_bytes(codecs.BOM_UTF32_BE + text.encode("utf-32-be"))
    assert read_all(path) == [(2, expected(0, source="é")), (3, expected(1))]


def test_quoted_fields_with_delimiters_and_line_breaks_keep_line_numbers(tmp_path: Path) -> None:
    tricky = 'wrist, left; "strap"\nsecond line'
    path = write_csv(tmp_path / "obs.csv", [row(0, source=tricky), row(1), row(2)])
    text = path.read_text()
    assert text.count("\n") == 5  # the quoted line break adds a line
    with path.open("a") as handle:
        handle.write("\n")  # a trailing blank line, as editors leave
    assert read_all(path) == [
        (2, expected(0, source=tricky)),
        (4, expected(1)),
        (5, expected(2)),
    ]


def test_error_names_the_file_line_after_blank_and_multiline_rows(
    tmp_path: Path, client: GenomcoreApiClient, emulator: Emulator
) -> None:
    path = tmp_path / "obs.csv"
    lines = [
        ",".join(HEADER),
        ",".join(row(0)),
        "",
        '1,"two\nlines",steps,W-1,b1,2024-04-01T00:01:00+02:00,2024-04-01T00:01:30+02:00,1',
        ",".join(row(2, value="12.5")),
    ]
    path.write_text("\r\n".join(lines) + "\r\n", newline="")
    with pytest.raises(ObservationValidationError) as caught:
        client.time_series.create_time_series(str(path))
    problem = caught.value.problems[0]
    assert (problem.index, problem.line, problem.field, problem.value) == (
        2,
        6,
        "point.value",
        "12.5",
    )
    assert "row 2 (line 6), field 'point.value', value '12.5'" in str(caught.value)
    assert emulator.state.status_counts == {}


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            HEADER[:-2],
            "missing column(s) ['point.end', 'point.value']",
        ),
        (
            [*HEADER, "comment"],
            "unknown column(s) ['comment']",
        ),
        (
            ["userId", *HEADER[1:]],
            "missing column(s) ['meta.userId']; unknown column(s) ['userId']",
        ),
    ],
)
def test_wrong_header_names_the_columns_and_sends_nothing(
    tmp_path: Path,
    client: GenomcoreApiClient,
    emulator: Emulator,
    header: list[str],
    message: str,
) -> None:
    path = write_csv(tmp_path / "obs.csv", [row(0)[: len(header)]], header=header)
    with pytest.raises(InputFormatError) as caught:
        client.time_series.create_time_series(path)
    assert message in str(caught.value)
    assert f"The header of the CSV file {str(path)!r} does not match" in str(caught.value)
    assert emulator.state.status_counts == {}


def test_columns_in_another_order(tmp_path: Path) -> None:
    order = list(reversed(HEADER))
    path = write_csv(tmp_path / "obs.csv", [list(reversed(row(4)))], header=order, delimiter=";")
    assert read_all(path) == [(2, expected(4))]


def test_row_with_a_stray_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    path.write_text(",".join(HEADER) + "\n" + ",".join(row(0)) + ",extra\n")
    with open_source(path).open(ObservationEncoder()) as reading:
        ((line, cells),) = list(reading.rows())
        with pytest.raises(RowProblem, match="the row has 9 cells but the header has 8 columns"):
            reading.encode(cells)
    assert line == 2


def test_bytes_that_are_not_utf8_are_named(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    content = (",".join(HEADER) + "\n" + ",".join(row(0, source="Montre\xe9")) + "\n").encode(
        "latin-1"
    )
    path.write_bytes(content)
    with open_source(path).open(ObservationEncoder()) as reading:
        ((_line, cells),) = list(reading.rows())
        with pytest.raises(RowProblem) as caught:
            reading.encode(cells)
    assert caught.value.field == "meta.source"
    assert caught.value.value == "Montre\ufffd"
    assert "is not valid UTF-8 text; save the file as UTF-8" in caught.value.message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty or starts with a blank line"),
        (b"\n" + ",".join(HEADER).encode(), "is empty or starts with a blank line"),
    ],
)
def test_empty_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "obs.csv"
    path.write_bytes(content)
    with pytest.raises(InputFormatError, match=message):
        open_source(path).open(ObservationEncoder())


def test_missing_file(client: GenomcoreApiClient, tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=r"Cannot read the CSV file .*No such file"):
        client.time_series.create_time_series(str(tmp_path / "nope.csv"))


def test_real_file_as_a_path_is_stored_as_given(
    client: GenomcoreApiClient, emulator: Emulator, sample_csv: Path
) -> None:
    report = client.time_series.create_time_series(sample_csv)
    assert report.stored == report.sent == 40_316
    assert report.chunks == 41
    assert [r.inserted for r in report] == [1000] * 40 + [316]
    first = client.time_series.query_time_series(
        page=0, pageSize=1, body={"sort": {"timestamp": 1}}
    ).data[0]
    # the file's first row: 2015-07-04T09:45:00+01:00, stored as the same instant in UTC
    assert first.point.start.isoformat() == "2015-07-04T08:45:00+00:00"
    assert first.meta.batch == "actiwatch-2015-07-04"


# ---------------------------------------------------------------- pandas


def test_dataframe_upload(client: GenomcoreApiClient, emulator: Emulator) -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame([row(i) for i in range(5)], columns=HEADER)
    frame["meta.userId"] = frame["meta.userId"].astype("int64")
    frame["point.value"] = frame["point.value"].astype("int64")
    frame["point.start"] = pandas.to_datetime(frame["point.start"])
    report = client.time_series.create_time_series(frame, chunksize=2)
    assert report.stored == 5
    assert [r.inserted for r in report] == [2, 2, 1]
    values = client.time_series.query_time_series(body={"sort": {"timestamp": 1}}).data
    assert [o.point.value for o in values] == [0, 1, 2, 3, 4]
    assert values[0].point.start.isoformat() == "2024-03-31T22:00:00+00:00"


def test_dataframe_float_values_and_missing_cells_are_refused(
    client: GenomcoreApiClient, emulator: Emulator
) -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame([row(i) for i in range(3)], columns=HEADER)
    frame["meta.userId"] = frame["meta.userId"].astype("int64")
    frame["point.value"] = [1.0, 2.5, 3.0]
    with pytest.raises(ObservationValidationError) as caught:
        client.time_series.create_time_series(frame)
    problem = caught.value.problems[0]
    assert (problem.index, problem.field, problem.value) == (0, "point.value", 1.0)
    assert "must be an integer, got the float 1.0" in problem.message

    frame["point.value"] = [1, 2, 3]
    frame.loc[1, "meta.batch"] = None
    with pytest.raises(ObservationValidationError) as caught:
        client.time_series.create_time_series(frame)
    problem = caught.value.problems[0]
    assert (problem.index, problem.field) == (1, "meta.batch")
    assert "meta.batch is missing: batch must be a non-empty string" in problem.message
    assert emulator.state.status_counts == {}


def test_dataframe_value_column_made_float_by_a_missing_value_says_why_and_how_to_fix(
    client: GenomcoreApiClient, emulator: Emulator, tmp_path: Path
) -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame([row(i) for i in range(4)], columns=HEADER)
    frame["meta.userId"] = frame["meta.userId"].astype("int64")
    frame["point.start"] = pandas.to_datetime(frame["point.start"])
    frame["point.value"] = [0, 5, None, 7]  # pandas makes this float64, NaN at row 2
    assert frame["point.value"].dtype.kind == "f"
    with pytest.raises(ObservationValidationError) as caught:
        client.time_series.create_time_series(frame)
    problem = caught.value.problems[0]
    assert (problem.index, problem.field, problem.value) == (0, "point.value", 0.0)
    assert problem.message == (
        "point.value must be an integer, got the float 0.0: pandas made the point.value column "
        "float64 because it has missing values (NaN at row(s) 2); convert it with "
        "df['point.value'] = df['point.value'].astype('Int64') (whole values stay exact, a "
        "fractional one makes pandas refuse, and missing ones are then refused or skipped by "
        "their own row)"
    )
    assert emulator.state.status_counts == {}
    # the fix it gives: only the row with the missing value is left out
    frame["point.value"] = frame["point.value"].astype("Int64")
    report = client.time_series.create_time_series(
        frame, on_invalid="skip", rejects_path=tmp_path / "rejects.csv"
    )
    assert (report.stored, report.rejected) == (3, 1)
    with open(tmp_path / "rejects.csv", newline="", encoding="utf-8") as rejects:
        assert [(r["row"], r["field"]) for r in csv.DictReader(rejects)] == [("2", "point.value")]
    stored = client.time_series.query_time_series(body={"sort": {"timestamp": 1}}).data
    assert [o.point.value for o in stored] == [0, 5, 7]


def test_dataframe_with_wrong_columns(client: GenomcoreApiClient) -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"userId": [1]})
    with pytest.raises(InputFormatError, match="The header of the DataFrame does not match"):
        client.time_series.create_time_series(frame)
