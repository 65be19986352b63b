"""What the web service may accept, how much work it keeps in flight, and how long it waits."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from ..errors import SketchcolorError
from ..runtime import BACKENDS

MB = 1024 * 1024


@dataclass(frozen=True)
class StudyLimits:
    """How fast the user study may grow, so a script cannot fill Table 3 with fake people:
    requests over a limit get 429 with Retry-After. Counted per client address and for all
    clients together, in any one hour (a sliding window)."""

    participants_per_client: int = 20  # new sessions one address may start; a lab behind one NAT may need more
    participants_total: int = 200  # new sessions from everyone
    answers_per_client: int = 600  # answers one address may send (20 people x 30 sketches)
    answers_total: int = 3000  # answers from everyone
    max_body_bytes: int = 64 * 1024  # an answer is a few hundred bytes; larger study requests get 413

    def __post_init__(self) -> None:
        _at_least_one(self, "study limit ")


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # model directory or run folder; None: the bundled model
    device: str = "auto"  # auto, cpu, cuda or cuda:N
    backend: str = "auto"  # auto (measured: backend_choice.py), torch, compile or onnx
    workers: int = 1  # threads running the model at once (each shares the one loaded model)
    queue_size: int = 4  # jobs that may wait for a worker; one more gets 503 + Retry-After
    retry_after_s: int = 2  # what a 503 tells the client to wait before trying again
    max_upload_bytes: int = 20 * MB  # larger uploads get 413 (checked while the body streams in)
    max_pixels: int = 25_000_000  # larger images get 413 from their header, before decoding (A3 at 300 dpi)
    max_working_size: int = 512  # the largest side the network may be asked to paint at
    max_connections: int = 64  # uvicorn's own cap on open connections: a backstop for upload memory
    # Slow or silent clients hold connections, and every open connection counts against
    # max_connections: each wait below is bounded so they cannot crowd out everyone else.
    header_timeout_s: float = 10.0  # a request's line and headers must arrive within this (else 408, closed)
    body_timeout_s: float = 30.0  # an upload that sends nothing for this long gets 408 (closed)
    idle_timeout_s: float = 5.0  # a kept-alive connection with no next request is closed after this
    shutdown_timeout_s: float = 2.0  # on SIGINT/SIGTERM, requests still open after this get 503 (or are cut)
    study_db: Path | None = None  # a study database (`sketchcolor study create`) served at /study
    study_limits: StudyLimits = field(default_factory=StudyLimits)

    def __post_init__(self) -> None:
        _at_least_one(self, "serve setting ", skip=("queue_size", "shutdown_timeout_s"))
        if self.backend not in BACKENDS:
            raise SketchcolorError(f"serve setting backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        for name in ("queue_size", "shutdown_timeout_s"):
            if getattr(self, name) < 0:
                raise SketchcolorError(f"serve setting {name} must be 0 or more, not {getattr(self, name)}")


def _at_least_one(settings: object, prefix: str, skip: tuple[str, ...] = ()) -> None:
    """Every count of `settings` (but those in `skip`) must be at least 1, every timeout above 0."""
    for item in fields(settings):
        value = getattr(settings, item.name)
        if item.name in skip:
            continue
        if item.type == "int" and value < 1:
            raise SketchcolorError(f"{prefix}{item.name} must be at least 1, not {value}")
        if item.type == "float" and not value > 0:
            raise SketchcolorError(f"{prefix}{item.name} must be more than 0 seconds, not {value}")
