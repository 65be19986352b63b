"""Starting `sketchcolor serve` from another program (the browser test, the load benchmark,
the screenshot script): a free loopback port, and waiting until the server answers."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request


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
