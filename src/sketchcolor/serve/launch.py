"""Starting `sketchcolor serve` from another program (the tests, the load benchmark, the
screenshot script): a free loopback port, and waiting until the server answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from typing import IO

from ..errors import SketchcolorError


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(base: str, process: subprocess.Popen, timeout: float = 120.0) -> bool:
    """True once `base`/api/health answers; False if `process` exited first or `timeout`
    seconds passed (the model loads before the port opens, so this may take a while)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/health", timeout=2).read()
            return True
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.3)


def start_serving(*args: str, env: dict[str, str] | None = None, log: IO | int = subprocess.DEVNULL,
                  timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """`sketchcolor serve ARGS` on a free loopback port, once it answers: the process and its
    base URL. The caller stops it (SIGINT or SIGTERM); one that does not answer is killed."""
    port = free_port()
    command = [sys.executable, "-m", "sketchcolor", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    if not wait_until_serving(base, process, timeout):
        process.kill()
        process.wait()
        raise SketchcolorError(f"`sketchcolor serve` did not answer at {base} (exit code {process.returncode})")
    return process, base
