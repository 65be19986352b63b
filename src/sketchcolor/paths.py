"""Where sketchcolor keeps files it can always rebuild: one cache folder for decoded pairs,
FID reference statistics and ONNX exports alike, so clearing it is one `rm -r`."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/sketchcolor, else ~/.cache/sketchcolor (the XDG convention)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sketchcolor"
