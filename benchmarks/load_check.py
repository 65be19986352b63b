"""Load check of `sketchcolor serve`: many requests from a few concurrent clients on loopback.

Starts the server itself on a free 127.0.0.1 port (with a tiny random-weight model unless
--model is given), sends --requests POST /api/colorize from --concurrency client threads,
stops the server and prints one JSON object:

  status_counts        replies by HTTP status (a healthy bounded server gives only 200 and 503)
  only_200_or_503      the check itself: true when nothing else came back
  retry_after_on_503   how many 503s carried a Retry-After header
  wall_s, throughput_rps, latency_ms (p50/p95/max of the 200s)
  server_rss_mb        the server's resident memory after start-up, at the end, and its peak
                       (VmHWM from /proc/PID/status, Linux only)

    OMP_NUM_THREADS=1 python benchmarks/load_check.py --requests 200 --concurrency 8 --workers 1 --queue 2

The exit code is 1 when any reply was not 200 or 503. Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sketchcolor.serve.launch import free_port, wait_until_serving

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "sketchcolor" / "examples" / "sketch.png"


def tiny_model(directory: Path) -> Path:
    """A random-weight model with the tests' tiny config: measures the service, not the network."""
    import torch

    from sketchcolor.checkpoint import save_model
    from sketchcolor.config import load_config
    from sketchcolor.models import build_generator

    config = load_config("tiny", [])
    torch.manual_seed(0)
    return save_model(directory / "tiny", build_generator(config.generator), config)


def multipart(field: str, name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "sketchcolor-load-check"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            "Content-Type: image/png\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def memory_mb(pid: int, key: str) -> float:
    """VmRSS or VmHWM of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(model: Path, workers: int, queue: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "sketchcolor", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--model", str(model), "--workers", str(workers), "--queue", str(queue)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    if not wait_until_serving(base, server):
        server.kill()
        raise SystemExit("the server did not start")
    return server, base


def one_request(url: str, body: bytes, content_type: str) -> tuple[str, float, bool]:
    """(status, seconds, has Retry-After)."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            ok = reply.read().startswith(b"\x89PNG")
            return ("200" if ok else "200-not-png"), time.perf_counter() - started, False
    except urllib.error.HTTPError as err:
        err.read()
        return str(err.code), time.perf_counter() - started, err.headers.get("Retry-After") is not None
    except OSError as err:  # refused or reset connections count too
        return f"error:{type(err).__name__}", time.perf_counter() - started, False


def run(args: argparse.Namespace, model: Path) -> dict:
    server, base = start_server(model, args.workers, args.queue)
    body, content_type = multipart("file", args.sketch.name, args.sketch.read_bytes())
    rss_start, rss_max, done = memory_mb(server.pid, "VmRSS"), [0.0], threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            rss_max[0] = max(rss_max[0], memory_mb(server.pid, "VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(args.concurrency) as clients:
            replies = list(clients.map(lambda _: one_request(base + "/api/colorize", body, content_type),
                                       range(args.requests)))
        wall = time.perf_counter() - started
        done.set()
        rss_end, hwm = memory_mb(server.pid, "VmRSS"), memory_mb(server.pid, "VmHWM")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    counts = Counter(status for status, _, _ in replies)
    latencies = sorted(seconds * 1000 for status, seconds, _ in replies if status == "200")
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1) if latencies else None  # noqa: E731
    return {
        "requests": args.requests, "concurrency": args.concurrency, "workers": args.workers, "queue": args.queue,
        "model": str(args.model or "tiny (random weights)"), "sketch": args.sketch.name,
        "status_counts": dict(sorted(counts.items())),
        "only_200_or_503": set(counts) <= {"200", "503"},
        "retry_after_on_503": sum(1 for status, _, retry in replies if status == "503" and retry),
        "wall_s": round(wall, 2), "throughput_rps": round(len(replies) / wall, 1),
        "latency_ms": {"p50": pick(0.5), "p95": pick(0.95), "max": pick(1.0)},
        "server_rss_mb": {"after_start": round(rss_start, 1), "max_sampled": round(rss_max[0], 1),
                          "end": round(rss_end, 1), "peak_vmhwm": round(hwm, 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="model directory or run folder (default: a tiny random-weight model)")
    parser.add_argument("--sketch", type=Path, default=EXAMPLE, help="the image every request uploads")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8, help="client threads sending at once")
    parser.add_argument("--workers", type=int, default=1, help="the server's model threads")
    parser.add_argument("--queue", type=int, default=2, help="the server's waiting slots")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the server
    with tempfile.TemporaryDirectory(prefix="sketchcolor-load-") as scratch:
        model = args.model or tiny_model(Path(scratch))
        result = run(args, model)
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["only_200_or_503"] else 1)


if __name__ == "__main__":
    main()
