"""The ``genomcore`` command line, driven as a subprocess against a running emulator."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genomcore_sdk.emulator import Emulator
from tests.conftest import REFRESH, TOKEN

GENOMCORE = [sys.executable, "-m", "genomcore_sdk.cli"]


def run_cli(
    *args: str,
    emulator: Emulator | None,
    cwd: Path,
    stdin: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TOKEN", "REFRESH_TOKEN", "GENOMCORE_BASE_URL")
    }
    if emulator is not None:
        env.update(GENOMCORE_BASE_URL=emulator.base_url, TOKEN=TOKEN, REFRESH_TOKEN=REFRESH)
    env.update(extra_env or {})
    return subprocess.run(
        [*GENOMCORE, *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def canonical(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    """Rows keyed by meaning: instants normalised to UTC, values as integers."""
    from datetime import UTC, datetime

    def instant(text: str) -> str:
        return datetime.fromisoformat(text).astimezone(UTC).isoformat()

    return sorted(
        (
            r["meta.userId"],
            r["meta.source"],
            r["meta.metric"],
            r["meta.externalId"],
            r["meta.batch"],
            instant(r["point.start"]),
            instant(r["point.end"]),
            str(int(r["point.value"])),
        )
        for r in rows
    )


def test_help_on_every_command_shows_an_example(tmp_path: Path) -> None:
    commands: list[list[str]] = [[], ["ts"], ["ts", "upload"], ["ts", "query"], ["ts", "delete"]]
    for command in [*commands, ["emulator"]]:
        result = run_cli(*command, "--help", emulator=None, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "example" in result.stdout
        example = result.stdout.split("example", 1)[1]
        assert f"  genomcore {' '.join(command or ['ts'])} " in example


def test_upload_query_delete_reupload_round_trip(
    emulator: Emulator, sample_csv: Path, tmp_path: Path
) -> None:
    uploaded = run_cli("ts", "upload", str(sample_csv), emulator=emulator, cwd=tmp_path)
    assert uploaded.returncode == 0, uploaded.stderr
    assert "Stored 40,316 of 40,316" in uploaded.stdout
    assert emulator.state.store.count() == 40_316

    exported = tmp_path / "export.csv"
    queried = run_cli(
        "ts", "query", "--user-id", "1", "--batch", "actiwatch-2015-07-04",
        "--metric", "activity_counts", "--metric", "sleep_wake",
        "--format", "csv", "--out", str(exported),
        emulator=emulator, cwd=tmp_path,
    )  # fmt: skip
    assert queried.returncode == 0, queried.stderr
    exported_rows = read_rows(exported)
    assert len(exported_rows) == 40_316
    assert canonical(exported_rows) == canonical(read_rows(sample_csv))

    for metric, count in (("activity_counts", "20,160"), ("sleep_wake", "20,156")):
        deleted = run_cli(
            "ts", "delete", "--user-id", "1", "--batch", "actiwatch-2015-07-04", "--metric", metric, "--yes",
            emulator=emulator, cwd=tmp_path,
        )  # fmt: skip
        assert deleted.returncode == 0, deleted.stderr
        assert f"Deleted {count} observations." in deleted.stdout
        assert "Verified: no matching observations remain." in deleted.stdout
    assert emulator.state.store.count() == 0

    again = run_cli("ts", "upload", str(exported), emulator=emulator, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Stored 40,316 of 40,316" in again.stdout
    second = tmp_path / "second.csv"
    run_cli("ts", "query", "--format", "csv", "--out", str(second), emulator=emulator, cwd=tmp_path)
    assert read_rows(second) == exported_rows  # identical value by value, same order


def test_query_formats_stream(emulator: Emulator, sample_csv: Path, tmp_path: Path) -> None:
    run_cli("ts", "upload", str(sample_csv), emulator=emulator, cwd=tmp_path)
    day = ["--metric", "activity_counts", "--start", "2015-07-05", "--end", "2015-07-06"]
    jsonl = run_cli("ts", "query", *day, "--format", "jsonl", emulator=emulator, cwd=tmp_path)
    lines = jsonl.stdout.splitlines()
    assert len(lines) == 2_880
    first = json.loads(lines[0])
    assert first["timestamp"] == "2015-07-05T00:00:00+00:00"
    assert first["meta"]["metric"] == "activity_counts" and "id" in first
    table = run_cli(
        "ts", "query", *day, "--sort", "desc", "--format", "table", emulator=emulator, cwd=tmp_path
    )
    rows = table.stdout.splitlines()
    assert rows[0].split() == [
        "userId",
        "source",
        "metric",
        "externalId",
        "batch",
        "start",
        "end",
        "value",
    ]
    assert len(rows) == 2_881
    assert "2015-07-05T23:59:30+00:00" in rows[1]


def test_bad_file_exits_2_and_sends_nothing(emulator: Emulator, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "meta.userId,meta.source,meta.metric,meta.externalId,meta.batch,point.start,point.end,point.value\n"
        "1,watch,steps,W-1,b1,2024-04-01T00:00:00Z,2024-04-01T00:01:00Z,12\n"
        "1,watch,steps,W-1,b1,2024-04-01T00:01:00Z,2024-04-01T00:02:00Z,12.5\n"
    )
    result = run_cli("ts", "upload", str(bad), emulator=emulator, cwd=tmp_path)
    assert result.returncode == 2
    assert "line 3" in result.stderr and "point.value" in result.stderr and "12.5" in result.stderr
    assert emulator.state.status_counts == {}
    missing = run_cli("ts", "upload", str(tmp_path / "nope.csv"), emulator=emulator, cwd=tmp_path)
    assert missing.returncode == 2


def test_server_failing_every_request_exits_1(
    emulator: Emulator, sample_csv: Path, tmp_path: Path
) -> None:
    emulator.set_faults(fail_rate=1.0)
    small = tmp_path / "small.csv"
    small.write_text("".join(sample_csv.read_text().splitlines(keepends=True)[:51]))
    failed_rows = tmp_path / "failed.csv"
    result = run_cli(
        "ts", "upload", str(small), "--max-retries", "1", "--chunksize", "20", "--failed-rows", str(failed_rows),
        emulator=emulator, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert str(failed_rows) in result.stderr
    assert len(read_rows(failed_rows)) == 50
    assert emulator.state.store.count() == 0


def test_credentials_from_dotenv(emulator: Emulator, sample_csv: Path, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"GENOMCORE_BASE_URL={emulator.base_url}\nTOKEN={TOKEN}\nREFRESH_TOKEN={REFRESH}\n"
    )
    result = run_cli("ts", "query", "--format", "jsonl", emulator=None, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    # flags beat the environment, which beats .env
    wrong = run_cli(
        "ts", "query", "--token", "wrong-token", "--refresh-token", "wrong-refresh",
        emulator=None, cwd=tmp_path,
    )  # fmt: skip
    assert wrong.returncode == 1
    assert "wrong-token" not in wrong.stderr and "wrong-refresh" not in wrong.stderr


def test_delete_without_terminal_needs_yes(emulator: Emulator, tmp_path: Path) -> None:
    result = run_cli(
        "ts",
        "delete",
        "--user-id",
        "1",
        "--batch",
        "b",
        "--metric",
        "m",
        emulator=emulator,
        cwd=tmp_path,
        stdin="",
    )
    assert result.returncode == 2
    assert "--yes" in result.stderr
    assert 200 not in emulator.state.status_counts


def test_upload_progress_bar_redraws_on_a_terminal(
    emulator: Emulator, sample_csv: Path, tmp_path: Path
) -> None:
    emulator.set_faults(delay_ms=20)
    env = dict(
        os.environ,
        GENOMCORE_BASE_URL=emulator.base_url,
        TOKEN=TOKEN,
        REFRESH_TOKEN=REFRESH,
        COLUMNS="120",
    )
    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI on a pseudo-terminal
        os.chdir(tmp_path)
        os.execve(
            sys.executable,
            [
                *GENOMCORE,
                "ts",
                "upload",
                str(sample_csv),
                "--chunksize",
                "500",
                "--concurrency",
                "2",
            ],
            env,
        )
    output = b""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            output += data
    _, status = os.waitpid(pid, 0)
    text = output.decode("utf-8", errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text[-2000:]
    redraws = [part for part in text.split("\r") if "rows" in part and "upload" in part]
    assert len(redraws) >= 3, text[-2000:]
    assert "chunks=" in text and "retries=" in text
    assert "Stored 40,316 of 40,316" in text


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "table"])
def test_query_of_nothing_is_empty_but_well_formed(
    emulator: Emulator, tmp_path: Path, fmt: str
) -> None:
    result = run_cli(
        "ts", "query", "--batch", "none", "--format", fmt, emulator=emulator, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    expected_lines = {"csv": 1, "jsonl": 0, "table": 1}[fmt]
    assert len(result.stdout.splitlines()) == expected_lines


def test_query_with_a_naive_start_is_refused_before_sending(
    emulator: Emulator, tmp_path: Path
) -> None:
    result = run_cli(
        "ts", "query", "--start", "2015-07-05T00:00:00", emulator=emulator, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "2015-07-05T00:00:00" in result.stderr
    assert emulator.state.status_counts == {}


def test_delete_whose_answer_is_lost_is_verified(
    emulator: Emulator, sample_csv: Path, tmp_path: Path
) -> None:
    run_cli("ts", "upload", str(sample_csv), emulator=emulator, cwd=tmp_path)
    emulator.set_faults(drop_rate=1.0, operations={"deleteTimeSeries"})
    result = run_cli(
        "ts", "delete", "--user-id", "1", "--batch", "actiwatch-2015-07-04", "--metric", "sleep_wake", "--yes",
        emulator=emulator, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "connection was lost" in result.stdout
    assert "Verified: no matching observations remain." in result.stdout
    assert emulator.state.store.count() == 20_160


def test_missing_credentials_name_the_flags(tmp_path: Path) -> None:
    result = run_cli("ts", "query", emulator=None, cwd=tmp_path)
    assert result.returncode == 2
    assert "pass --token (and --refresh-token), set the TOKEN" in result.stderr
    assert "GenomcoreApiClient" not in result.stderr


def test_a_failed_query_leaves_no_output_file(emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = run_cli(
        "ts", "query", "--format", "csv", "--out", str(out), "--token", "wrong-token",
        emulator=None, cwd=tmp_path,
        extra_env={"GENOMCORE_BASE_URL": emulator.base_url},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "401" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_progress_lines_tell_stored_skipped_and_failed_rows() -> None:
    from types import SimpleNamespace

    from genomcore_sdk.cli.progress import UploadProgressDisplay

    stream = io.StringIO()
    display = UploadProgressDisplay(3000, stream=stream, live=False, interval=0.0)

    def event(kind: str, status: str, rows_done: int, chunks_done: int) -> SimpleNamespace:
        chunk = SimpleNamespace(status=status, size=1000)
        return SimpleNamespace(
            kind=kind, chunk=chunk, rows_done=rows_done, chunks_done=chunks_done, retries=0
        )

    display(event("chunk_done", "skipped", 1000, 1))
    display(event("chunk_done", "stored", 2000, 2))
    display(event("chunk_failed", "failed", 3000, 3))
    display.close()  # the last event was printed already: no second line
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[-1].startswith(
        "upload: 3,000/3,000 (100%) rows done (1,000 stored, 1,000 already stored (journal), "
        "1 chunks failed), 3 chunks, 0 retries"
    )


@pytest.mark.parametrize("target", ["missing-dir/out.csv", "a-dir"])
def test_query_out_that_cannot_be_written_is_a_usage_error(
    emulator: Emulator, tmp_path: Path, target: str
) -> None:
    (tmp_path / "a-dir").mkdir()
    result = run_cli(
        "ts", "query", "--format", "csv", "--out", target, emulator=emulator, cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert target in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-dir"]
    assert list((tmp_path / "a-dir").iterdir()) == []


def test_ctrl_c_exits_130_with_a_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sample_csv: Path
) -> None:
    from genomcore_sdk import cli
    from genomcore_sdk.cli import session

    def interrupted(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(session.GenomcoreApiClient, "__init__", interrupted)
    monkeypatch.setenv("TOKEN", "t")
    monkeypatch.setenv("GENOMCORE_BASE_URL", "http://127.0.0.1:9")
    assert cli.main(["ts", "upload", str(sample_csv)]) == 130
    err = capsys.readouterr().err
    assert err.startswith("genomcore ts upload: interrupted. Chunks the server answered")
    assert "Traceback" not in err


@pytest.mark.parametrize("retries", [0, 2])
def test_query_retries_as_many_times_as_max_retries_and_prints_nothing_on_failure(
    emulator: Emulator, tmp_path: Path, retries: int
) -> None:
    emulator.set_faults(fail_rate=1.0, retry_after=0, operations={"queryTimeSeries"})
    result = run_cli(
        "ts", "query", "--format", "table", "--max-retries", str(retries),
        emulator=emulator, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""  # no header line for a query that got no page
    assert "--max-retries" in result.stderr  # the hint names the flag, not only max_retries
    assert sum(n for status, n in emulator.state.status_counts.items() if status >= 500) == (
        retries + 1
    )


def test_query_refuses_negative_max_retries(emulator: Emulator, tmp_path: Path) -> None:
    result = run_cli("ts", "query", "--max-retries", "-1", emulator=emulator, cwd=tmp_path)
    assert result.returncode == 2
    assert "--max-retries must be 0 or more" in result.stderr
    assert emulator.state.status_counts == {}


HEADER = "meta.userId,meta.source,meta.metric,meta.externalId,meta.batch,point.start,point.end,point.value\n"


def test_naive_times_name_the_cli_flag_and_stop_before_sending(
    emulator: Emulator, tmp_path: Path
) -> None:
    naive = tmp_path / "naive.csv"
    naive.write_text(HEADER + "1,watch,steps,W-1,b1,2024-04-01T08:00:00,2024-04-01T08:01:00,12\n")
    result = run_cli("ts", "upload", str(naive), emulator=emulator, cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid input, nothing was sent (the check stops at the first invalid row):" in (
        result.stderr
    )
    assert "row 0 (line 2), field 'point.start', value '2024-04-01T08:00:00'" in result.stderr
    assert "(--assume-timezone Europe/Madrid on the command line)" in result.stderr
    assert emulator.state.status_counts == {}
    fixed = run_cli(
        "ts", "upload", str(naive), "--assume-timezone", "Europe/Madrid",
        emulator=emulator, cwd=tmp_path,
    )  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    assert emulator.state.store.count() == 1


def test_skip_mode_with_every_row_invalid_says_so(emulator: Emulator, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER
        + "1,watch,steps,W-1,b1,2024-04-01T00:00:00Z,2024-04-01T00:01:00Z,12.5\n"
        + "x,watch,steps,W-1,b1,2024-04-01T00:01:00Z,2024-04-01T00:02:00Z,3\n"
    )
    rejects = tmp_path / "rejects.csv"
    result = run_cli(
        "ts", "upload", str(bad), "--on-invalid", "skip", "--rejects", str(rejects),
        emulator=emulator, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        f"No valid rows: all 2 were skipped as invalid, so nothing was sent; see {rejects} "
        "for each row's reason."
    )
    assert [row["field"] for row in read_rows(rejects)] == ["point.value", "meta.userId"]
    assert emulator.state.status_counts == {}
    # the rejects file, uploaded as it is, is named as one
    again = run_cli("ts", "upload", str(rejects), emulator=emulator, cwd=tmp_path)
    assert again.returncode == 2
    assert (
        "this looks like a rejects file: once its rows are fixed, delete the columns row, line, "
        "field, reason, extra_cells"
    ) in again.stderr


def test_emulator_default_tokens_are_the_ones_the_docs_export(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import argparse

    from genomcore_sdk.emulator.server import add_arguments

    monkeypatch.delenv("GENOMCORE_EMULATOR_TOKEN", raising=False)
    monkeypatch.delenv("GENOMCORE_EMULATOR_REFRESH_TOKEN", raising=False)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert (args.token, args.refresh_token) == ("dev-token", "dev-refresh")
    assert f"TOKEN={args.token} REFRESH_TOKEN={args.refresh_token}" in readme
