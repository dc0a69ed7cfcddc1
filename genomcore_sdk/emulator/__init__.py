"""A faithful local emulator of the Genomcore Time Series API.

It is a real HTTP server on loopback (Starlette on uvicorn) that implements
every operation of ``openapi.yaml`` and stores observations in SQLite, so
scripts can be tried offline and tests talk to it over real sockets.
Install it with ``pip install 'genomcore-sdk[emulator]'``.

From a shell::

    genomcore emulator --port 8080 --db ts.sqlite3 --token dev-token --refresh-token dev-refresh

From Python (a pytest fixture, a notebook):

    >>> from genomcore_sdk import GenomcoreApiClient
    >>> from genomcore_sdk.emulator import Emulator
    >>> with Emulator(token="t", refresh_token="r") as emu:
    ...     client = GenomcoreApiClient(token="t", refresh_token="r", base_url=emu.base_url)
    ...     client.time_series.query_time_series(body={}).total
    0

``Emulator()`` serves from a thread of the calling process by default; pass
``in_process=False`` to run it as a separate process (what benchmarks do, so
that server and client do not share one interpreter lock).

Tokens: the fixed ``token`` is valid for as long as the emulator runs (what
scripts written from the vendor docs use). The refresh operation issues JWT
access tokens living ``token_ttl`` seconds and rotates the refresh token on
every use (a refresh token used twice is refused). To test expiry, start a
client on :meth:`Emulator.mint_access_token` (``ttl=-1``: already expired)
and read the counters on :attr:`Emulator.tokens` (see
:mod:`genomcore_sdk.emulator.tokens`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from .faults import FaultConfig

if TYPE_CHECKING:
    from .app import EmulatorState
    from .schema import ObservationSchema
    from .tokens import TokenIssuer

__all__ = ["Emulator", "FaultConfig"]


class Emulator:
    """Run the emulator for the duration of a ``with`` block.

    Args:
        token: the access token the emulator accepts from the start.
        refresh_token: the refresh token the emulator accepts from the start.
        db: the SQLite file; a fresh temporary file when None (deleted on exit).
        port: the TCP port on 127.0.0.1; 0 picks a free one.
        token_ttl: lifetime in seconds of the JWT access tokens issued by refresh
            (the fixed ``token`` never expires).
        in_process: serve from a thread of this process (True) or a child process.
        faults: faults to inject (see :mod:`genomcore_sdk.emulator.faults`); change
            them later with :meth:`set_faults` (in-process only).
        schema: the observation schema to accept (in-process only), e.g.
            ``derive_schema(NewMeta, NewPoint)`` from
            :mod:`genomcore_sdk.emulator.schema`; by default it is derived from
            the installed generated models, which is also how a child-process
            emulator serves a regenerated client (put it first on ``PYTHONPATH``).

    Attributes:
        base_url: ``http://127.0.0.1:<port>`` once started.
        state: the live server state (storage, tokens, counters); in-process only.

    Examples:
        >>> from genomcore_sdk.emulator import Emulator
        >>> with Emulator(token="t", refresh_token="r") as emu:
        ...     emu.base_url.startswith("http://127.0.0.1:")
        True
    """

    def __init__(
        self,
        *,
        token: str = "test-token",
        refresh_token: str = "test-refresh-token",
        db: str | os.PathLike[str] | None = None,
        port: int = 0,
        token_ttl: float = 3600.0,
        in_process: bool = True,
        faults: FaultConfig | None = None,
        schema: ObservationSchema | None = None,
    ) -> None:
        if schema is not None and not in_process:
            raise ValueError(
                "schema= needs in_process=True; a child-process emulator derives its schema "
                "from the generated models it imports (set PYTHONPATH to serve regenerated ones)"
            )
        self.token = token
        self.refresh_token = refresh_token
        self._db_arg = os.fspath(db) if db is not None else None
        self._port = port
        self.token_ttl = token_ttl
        self.in_process = in_process
        self.faults = faults or FaultConfig()
        self.schema = schema
        self.base_url = ""
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._process: subprocess.Popen[bytes] | None = None
        self._state: EmulatorState | None = None

    def __repr__(self) -> str:
        return f"Emulator(base_url={self.base_url!r})"

    @property
    def db_path(self) -> str:
        """The SQLite file the emulator stores into."""
        if self._db_arg is not None:
            return self._db_arg
        if self._tmpdir is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="genomcore-emulator-")
        return os.path.join(self._tmpdir.name, "emulator.sqlite3")

    @property
    def pid(self) -> int | None:
        """The emulator's process id: the child's when ``in_process=False``, else this one's."""
        if self._process is not None:
            return self._process.pid
        return os.getpid() if self._state is not None else None

    @property
    def state(self) -> EmulatorState:
        """The running server's state (in-process emulators only)."""
        if self._state is None:
            raise RuntimeError("state is only available for a started, in-process Emulator")
        return self._state

    @property
    def tokens(self) -> TokenIssuer:
        """The token issuer and its counters (in-process emulators only).

        Examples:
            >>> with Emulator(token_ttl=2) as emu:
            ...     expired = emu.mint_access_token(ttl=-1)
            ...     emu.tokens.refresh_calls, emu.tokens.unauthorized, emu.tokens.unreplayed_401s
            (0, 0, 0)
        """
        return self.state.tokens

    def mint_access_token(self, ttl: float | None = None) -> str:
        """A JWT access token this emulator accepts for ``ttl`` seconds (default ``token_ttl``).

        A negative ``ttl`` gives an already-expired token (in-process emulators only).
        """
        return self.state.tokens.mint_access_token(ttl)

    def set_faults(self, faults: FaultConfig | None = None, **rates: Any) -> None:
        """Change the injected faults of a running in-process emulator.

        Examples:
            >>> with Emulator() as emu:
            ...     emu.set_faults(fail_rate=0.2, drop_rate=0.1)
            ...     emu.state.faults.config.fail_rate
            0.2
        """
        self.faults = faults if faults is not None else FaultConfig(**rates)
        self.state.faults.configure(self.faults)

    def start(self) -> Self:
        """Start serving; returns once the server accepts connections."""
        if self.in_process:
            self._start_thread()
        else:
            self._start_process()
        return self

    def stop(self) -> None:
        """Stop serving and release the database (and the temporary folder, if any)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._state is not None:
            self._state.store.close()
            self._state = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _start_thread(self) -> None:
        from .server import make_server, make_state

        self._state = make_state(
            db=self.db_path,
            token=self.token,
            refresh_token=self.refresh_token,
            token_ttl=self.token_ttl,
            faults=self.faults,
            schema=self.schema,
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted sockets
        sock.bind(("127.0.0.1", self._port))
        port = sock.getsockname()[1]
        self._server = make_server(self._state)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"genomcore-emulator-{port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start")
            time.sleep(0.005)
        self.base_url = f"http://127.0.0.1:{port}"

    def _start_process(self) -> None:
        port = self._port or _free_port()
        command = [
            sys.executable,
            "-m",
            "genomcore_sdk.emulator",
            "--port",
            str(port),
            "--db",
            self.db_path,
            "--token-ttl",
            str(self.token_ttl),
            "--fail-rate",
            str(self.faults.fail_rate),
            "--throttle-rate",
            str(self.faults.throttle_rate),
            "--drop-rate",
            str(self.faults.drop_rate),
            "--drop-before-commit-rate",
            str(self.faults.drop_before_commit_rate),
            "--delay-ms",
            str(self.faults.delay_ms),
            "--retry-after",
            str(self.faults.retry_after),
        ]
        if self.faults.seed is not None:
            command += ["--fault-seed", str(self.faults.seed)]
        env = dict(os.environ, GENOMCORE_EMULATOR_TOKEN=self.token)
        env["GENOMCORE_EMULATOR_REFRESH_TOKEN"] = self.refresh_token
        self._process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"the emulator process exited with {self._process.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator process did not start listening in 30 s")
            time.sleep(0.02)
        self.base_url = f"http://127.0.0.1:{port}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
