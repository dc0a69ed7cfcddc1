"""How fast the emulator ingests: pre-serialized bodies posted back to back by a bare httpx client.

Run: ``.venv/bin/python benchmarks/emulator_ingest.py [ROWS] [CHUNK]`` (default 300,000 rows
from the real sample, repeated with distinct batches, in bodies of 1000). The emulator runs as
a separate process (``Emulator(in_process=False)``), so this measures the server, not the client.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from genomcore_sdk.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "data" / "actigraphy_week.csv"
TOKEN = "bench-token"


def observations(total: int) -> list[dict[str, object]]:
    with SAMPLE.open(newline="") as handle:
        base = list(csv.DictReader(handle))
    out: list[dict[str, object]] = []
    copy = 0
    while len(out) < total:
        for row in base:
            if len(out) == total:
                break
            out.append(
                {
                    "meta": {
                        "userId": int(row["meta.userId"]),
                        "source": row["meta.source"],
                        "metric": row["meta.metric"],
                        "externalId": row["meta.externalId"],
                        "batch": f"{row['meta.batch']}-copy{copy}",
                    },
                    "point": {
                        "start": row["point.start"],
                        "end": row["point.end"],
                        "value": int(row["point.value"]),
                    },
                }
            )
        copy += 1
    return out


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    chunk = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    obs = observations(total)
    bodies = [orjson.dumps(obs[i : i + chunk]) for i in range(0, total, chunk)]
    with (
        tempfile.TemporaryDirectory() as tmp,
        Emulator(token=TOKEN, in_process=False, db=Path(tmp) / "ingest.sqlite3") as emu,
        httpx.Client(
            base_url=emu.base_url,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            timeout=60,
        ) as http,
    ):
        http.post("/v1/time-series", content=bodies[0]).raise_for_status()  # warm up
        pid = emu._process.pid if emu._process is not None else os.getpid()
        cpu_before = process_cpu(pid)
        started = time.perf_counter()
        for number, body in enumerate(bodies[1:], 1):
            answer = http.post(
                "/v1/time-series", content=body, headers={"Idempotency-Key": f"k{number}"}
            )
            answer.raise_for_status()
        elapsed = time.perf_counter() - started
        server_cpu = process_cpu(pid) - cpu_before
        sent = total - len(obs[:chunk])
        count = http.post("/v1/time-series/query?pageSize=1", json={}).json()["total"]
    assert count == total, (count, total)
    print(
        f"emulator ingest: {sent} observations in bodies of {chunk}: {elapsed:.2f} s, "
        f"{sent / elapsed:,.0f} observations/s, {elapsed / sent * 1e6:.1f} us/observation; "
        f"server CPU {server_cpu / sent * 1e6:.1f} us/observation"
    )


if __name__ == "__main__":
    main()
