"""Starts a real herald-server (HERALD_SERVER_BIN) for the conformance tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import uuid
from typing import Iterator, Optional

import pytest

DEFAULT_BIN = "/work/main/build/poly/server/herald-server"
READY_TIMEOUT_S = 20.0


class HeraldServer:
    """A herald-server process on 127.0.0.1 with its own data dir.

    ``restart()`` stops it gracefully and starts it again on the same port and
    data dir, which is what a client sees when its broker restarts.
    """

    def __init__(self, binary: str, data_dir: str) -> None:
        self.binary = binary
        self.data_dir = data_dir
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None
        self._log = open(os.path.join(data_dir, "..", "server.log"), "ab")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        ready = os.path.join(self.data_dir, "..", f"ready-{uuid.uuid4().hex}.json")
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--listen=127.0.0.1:{self.port}",
                "--metrics_listen=127.0.0.1:0",
                f"--data_dir={self.data_dir}",
                f"--ready_file={ready}",
                "--log_level=warn",
                "--shutdown_grace_ms=1000",
            ],
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise RuntimeError(f"herald-server exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("herald-server did not become ready")
            time.sleep(0.02)  # polling a file the server writes; no event to wait on
        with open(ready) as f:
            self.port = json.load(f)["grpc_port"]

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


@pytest.fixture
def server() -> Iterator[HeraldServer]:
    binary = os.environ.get("HERALD_SERVER_BIN", DEFAULT_BIN)
    if not os.access(binary, os.X_OK):
        pytest.fail(f"herald-server binary not found at {binary} (set HERALD_SERVER_BIN)")
    with tempfile.TemporaryDirectory(prefix="herald-py-") as tmp:
        data_dir = os.path.join(tmp, "data")
        os.makedirs(data_dir)
        srv = HeraldServer(binary, data_dir)
        srv.start()
        try:
            yield srv
        finally:
            if srv.proc is not None and srv.proc.poll() is None:
                srv.resume()
            srv.stop()
