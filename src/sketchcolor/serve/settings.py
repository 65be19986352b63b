"""What the web service may accept and how much work it keeps in flight."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import SketchcolorError

MB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    model: str | None = None  # model directory or run folder; None: the bundled model
    device: str = "auto"  # auto, cpu, cuda or cuda:N
    workers: int = 1  # threads running the model at once (each shares the one loaded model)
    queue_size: int = 4  # jobs that may wait for a worker; one more gets 503 + Retry-After
    retry_after_s: int = 2  # what a 503 tells the client to wait before trying again
    max_upload_bytes: int = 20 * MB  # larger uploads get 413 (checked while the body streams in)
    max_pixels: int = 25_000_000  # larger images get 413 from their header, before decoding (A3 at 300 dpi)
    max_working_size: int = 512  # the largest side the network may be asked to paint at
    max_connections: int = 64  # uvicorn's own cap on open connections: a backstop for upload memory
    study_db: Path | None = None  # a study database (`sketchcolor study create`) served at /study

    def __post_init__(self) -> None:
        positive = ("workers", "retry_after_s", "max_upload_bytes", "max_pixels", "max_working_size",
                    "max_connections")
        for name in positive:
            if getattr(self, name) < 1:
                raise SketchcolorError(f"serve setting {name} must be at least 1, not {getattr(self, name)}")
        if self.queue_size < 0:
            raise SketchcolorError(f"serve setting queue_size must be 0 or more, not {self.queue_size}")
