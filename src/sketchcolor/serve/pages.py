"""The HTML pages: plain files in static/, served with headers that keep them self-contained."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse

STATIC = Path(__file__).parent / "static"
# Our pages load nothing from elsewhere (no CDN, so they work offline); the browser enforces it.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:",
                "X-Content-Type-Options": "nosniff"}


def page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, headers=PAGE_HEADERS)
