"""Load check of `sketchcolor serve`: many requests from a few concurrent clients on loopback,
then SIGTERM.

Starts the server itself on a free 127.0.0.1 port (with a tiny random-weight model that takes
color hints, unless --model is given), sends POST /api/colorize from --concurrency client
threads, --requests of them or for --duration seconds, then stops the server with SIGTERM.

  plain    every request uploads --sketch
  --mixed  80% valid sketches (a quarter of them with color hints, an eighth a noise page over
           1 MB, which the server spools to a temporary file) and 20% the malformed-input corpus
           of tests/corpus.py: broken and odd pages as the sketch, bad hint JSON, bad hint layers

It prints one JSON object (and writes it to --json):

  status_counts        replies by HTTP status, in all and per kind (sketch, hinted, corpus)
  latency_ms           p50/p95/max of the 200s, and of every reply
  server_rss_mb        the server's resident memory after start-up, at the end, and its peak
                       (VmHWM from /proc/PID/status, Linux only)
  spool                the server's temporary folder: the most files in it and the most it held
                       open during the run, what was left after it, and whether it is gone at exit
  shutdown             SIGTERM's exit code and how long the server took to exit
  machine              CPUs and the load average around the run (this load check's clients count too)
  checks, passed       sketch and hinted requests get 200 or 503 (hinted: 422 when the model
                       takes no hints), corpus requests 200, 4xx or 503; peak RSS under
                       --max-rss-mb; no temporary file left; exit code 0 within --max-shutdown-s

    OMP_NUM_THREADS=1 python benchmarks/load_check.py --requests 200 --concurrency 8 --workers 1 --queue 2
    OMP_NUM_THREADS=1 python benchmarks/load_check.py --mixed --duration 60 --concurrency 8 \\
        --json benchmarks/results/load-mixed-60s.json

The exit code is 1 when a check fails. Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sketchcolor.atomic import atomic_write_text
from sketchcolor.serve.launch import start_serving

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "src" / "sketchcolor" / "examples" / "sketch.png"
HINTS = json.dumps({"units": "relative", "points": [{"x": 0.5, "y": 0.3, "color": "#e02020"}],
                    "strokes": [{"points": [[0.3, 0.6], [0.6, 0.7]], "color": "#2040e0"}]})


@dataclass(frozen=True)
class Upload:
    kind: str  # sketch, hinted or corpus
    body: bytes
    content_type: str


def form(kind: str, file: tuple[str, bytes], hints: str | None = None, layer: bytes | None = None) -> Upload:
    """A multipart upload: the sketch as `file`, and optional `hints` JSON or `hint_layer` PNG."""
    boundary = "sketchcolor-load-check"
    parts = [("file", file[0], file[1])]
    if hints is not None:
        parts.append(("hints", None, hints.encode()))
    if layer is not None:
        parts.append(("hint_layer", "layer.png", layer))
    body = b""
    for field, name, data in parts:
        filename = f'; filename="{name}"' if name else ""
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"{filename}\r\n'
                 f"Content-Type: {'application/octet-stream' if name else 'text/plain'}\r\n\r\n").encode()
        body += data + b"\r\n"
    return Upload(kind, body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}")


def mixed_uploads(sketch: Path, scratch: Path) -> list[Upload]:
    """One cycle of the mixed load: 8 valid uploads for every 2 from the corpus."""
    corpus = load_corpus()
    page = (sketch.name, sketch.read_bytes())
    valid = [form("sketch", page), form("hinted", page, hints=HINTS), form("sketch", page),
             form("sketch", ("noise.png", corpus.encoded(noise_page(1100), "PNG"))),
             form("sketch", page), form("hinted", page, hints=HINTS), form("sketch", page), form("sketch", page)]
    broken = [form("corpus", (item.path.name, item.path.read_bytes()))
              for item in corpus.image_corpus(scratch / "pages") if item.uploadable]
    for item in corpus.hint_corpus(scratch / "hints"):
        layered = item.path.name.endswith(".hints.png")
        broken.append(form("corpus", page, hints=None if layered else item.path.read_text(),
                           layer=item.path.read_bytes() if layered else None))
    uploads = []
    for start in range(0, len(broken), 2):  # 8 valid, 2 corpus; as many rounds as the corpus needs
        uploads += valid + broken[start:start + 2]
    return uploads


def load_corpus():
    """tests/corpus.py, the malformed-input corpus the tests use (loaded by path: tests/ is no package)."""
    spec = importlib.util.spec_from_file_location("corpus", ROOT / "tests" / "corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def noise_page(side: int):
    """A grayscale noise page: it does not compress, so its PNG is over 1 MB at 1100 px."""
    import numpy as np
    from PIL import Image

    return Image.fromarray(np.random.default_rng(side).integers(0, 255, (side, side), dtype=np.uint8))


def memory_mb(pid: int, key: str) -> float:
    """VmRSS or VmHWM of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def spool_files(pid: int, spool: Path) -> tuple[int, int]:
    """(files in the spool folder, files in it the server holds open): an open unnamed
    temporary file shows only among the process's descriptors."""
    listed = len(list(spool.iterdir())) if spool.is_dir() else 0
    opened = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            opened += os.readlink(fd).startswith(str(spool))
        except OSError:  # closed meanwhile
            pass
    return listed, opened


def one_request(url: str, upload: Upload) -> tuple[str, str, float]:
    """(kind, status, seconds)."""
    request = urllib.request.Request(url, data=upload.body, method="POST",
                                     headers={"Content-Type": upload.content_type})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            status = "200" if reply.read().startswith(b"\x89PNG") else "200-not-png"
    except urllib.error.HTTPError as err:
        err.read()
        status = str(err.code)
    except OSError as err:  # refused or reset connections count too
        status = f"error:{type(err).__name__}"
    return upload.kind, status, time.perf_counter() - started


def drive(url: str, uploads: list[Upload], concurrency: int, requests: int | None,
          duration: float | None) -> list[tuple[str, str, float]]:
    """Send uploads in turn from `concurrency` clients: `requests` in all, or for `duration` seconds."""
    counter, deadline = itertools.count(), time.monotonic() + (duration or 0)

    def client() -> list[tuple[str, str, float]]:
        replies = []
        while True:
            index = next(counter)
            if (requests is not None and index >= requests) or (duration and time.monotonic() > deadline):
                return replies
            replies.append(one_request(url, uploads[index % len(uploads)]))

    with ThreadPoolExecutor(concurrency) as pool:
        clients = [pool.submit(client) for _ in range(concurrency)]
    return [reply for future in clients for reply in future.result()]


def run(args: argparse.Namespace, model: Path, scratch: Path) -> dict:
    uploads = (mixed_uploads(args.sketch, scratch) if args.mixed
               else [form("sketch", (args.sketch.name, args.sketch.read_bytes()))])
    tmp = scratch / "tmp"
    tmp.mkdir()
    server, base = start_serving("--model", str(model), "--workers", str(args.workers), "--queue", str(args.queue),
                                 env={**os.environ, "TMPDIR": str(tmp)})
    (spool,) = tmp.glob("sketchcolor-serve-*")
    takes_hints = json.load(urllib.request.urlopen(base + "/api/models"))["models"][0]["hints"]
    watch = Watch(server.pid, spool)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        replies = drive(base + "/api/colorize", uploads, args.concurrency, None if args.duration else args.requests,
                        args.duration)
        wall = time.perf_counter() - started
        watch.stop()
        rss_end, hwm = memory_mb(server.pid, "VmRSS"), memory_mb(server.pid, "VmHWM")
        left_listed, left_open = spool_files(server.pid, spool)
    finally:
        stopping = time.perf_counter()
        server.send_signal(signal.SIGTERM)
        exit_code = server.wait(timeout=60)
        shutdown_s = time.perf_counter() - stopping
    return {
        "mode": "mixed" if args.mixed else "plain", "requests": len(replies), "concurrency": args.concurrency,
        "duration_s": args.duration, "workers": args.workers, "queue": args.queue,
        "model": str(args.model or "tiny (random weights, takes hints)"), "model_takes_hints": takes_hints,
        "sketch": args.sketch.name, "wall_s": round(wall, 2), "throughput_rps": round(len(replies) / wall, 1),
        "status_counts": dict(sorted(Counter(status for _, status, _ in replies).items())),
        "status_counts_by_kind": {kind: dict(sorted(Counter(s for k, s, _ in replies if k == kind).items()))
                                  for kind in sorted({kind for kind, _, _ in replies})},
        "latency_ms": {"200": percentiles([seconds for _, status, seconds in replies if status == "200"]),
                       "all": percentiles([seconds for _, _, seconds in replies])},
        "server_rss_mb": {"after_start": round(watch.rss_start, 1), "max_sampled": round(watch.rss_max, 1),
                          "end": round(rss_end, 1), "peak_vmhwm": round(hwm, 1)},
        "spool": {"max_files_listed": watch.listed_max, "max_files_open": watch.open_max,
                  "left_listed": left_listed, "left_open": left_open, "removed_at_exit": not spool.exists()},
        "shutdown": {"signal": "SIGTERM", "exit_code": exit_code, "seconds": round(shutdown_s, 2)},
        "machine": {"cpus": os.cpu_count(), "load_1m_before": round(load_before, 2),
                    "load_1m_after": round(os.getloadavg()[0], 2)},  # other work slows every figure above
    }


class Watch:
    """Samples the server's memory and its spool folder every 50 ms, in a thread, until stop()."""

    def __init__(self, pid: int, spool: Path):
        self.pid, self.spool = pid, spool
        self.rss_start = self.rss_max = memory_mb(pid, "VmRSS")
        self.listed_max = self.open_max = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.05):
            self.rss_max = max(self.rss_max, memory_mb(self.pid, "VmRSS"))
            listed, opened = spool_files(self.pid, self.spool)
            self.listed_max, self.open_max = max(self.listed_max, listed), max(self.open_max, opened)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def percentiles(seconds: list[float]) -> dict:
    ordered = sorted(s * 1000 for s in seconds)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else None  # noqa: E731
    return {"p50": pick(0.5), "p95": pick(0.95), "max": pick(1.0), "n": len(ordered)}


def checks(result: dict, max_rss_mb: float, max_shutdown_s: float) -> dict[str, bool]:
    """Each of the load check's conditions, true when met."""
    by_kind = result["status_counts_by_kind"]
    hinted_ok = {"200", "503"} if result["model_takes_hints"] else {"422", "503"}
    return {
        "sketch_200_or_503": set(by_kind.get("sketch", {})) <= {"200", "503"},
        "hinted_" + "_or_".join(sorted(hinted_ok)): set(by_kind.get("hinted", {})) <= hinted_ok,
        "corpus_200_4xx_or_503": all(s in {"200", "503"} or (s.isdigit() and 400 <= int(s) < 500)
                                     for s in by_kind.get("corpus", {})),
        f"peak_rss_under_{max_rss_mb:g}_mb": result["server_rss_mb"]["peak_vmhwm"] < max_rss_mb,
        "no_temporary_file_left": result["spool"]["left_listed"] == result["spool"]["left_open"] == 0,
        f"sigterm_exit_0_within_{max_shutdown_s:g}_s": (result["shutdown"]["exit_code"] == 0
                                                       and result["shutdown"]["seconds"] <= max_shutdown_s),
        "spool_removed": result["spool"]["removed_at_exit"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="model directory or run folder (default: a tiny random-weight model that takes hints)")
    parser.add_argument("--sketch", type=Path, default=EXAMPLE, help="the valid page the requests upload")
    parser.add_argument("--mixed", action="store_true", help="mix in hints, a page over 1 MB and the corpus")
    parser.add_argument("--requests", type=int, default=200, help="requests in all (unless --duration)")
    parser.add_argument("--duration", type=float, default=None, help="send for this many seconds instead")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads sending at once")
    parser.add_argument("--workers", type=int, default=1, help="the server's model threads")
    parser.add_argument("--queue", type=int, default=2, help="the server's waiting slots")
    parser.add_argument("--max-rss-mb", type=float, default=1536, help="the server's peak RSS must stay under this")
    parser.add_argument("--max-shutdown-s", type=float, default=5, help="SIGTERM must end the server within this")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the server
    with tempfile.TemporaryDirectory(prefix="sketchcolor-load-") as scratch:
        model = args.model or load_corpus().random_hint_model(Path(scratch))
        result = run(args, model, Path(scratch))
    result["checks"] = checks(result, args.max_rss_mb, args.max_shutdown_s)
    result["passed"] = all(result["checks"].values())
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        atomic_write_text(args.json, text + "\n")
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
