"""The one owner of image files and PIL <-> tensor conversion.

Everything that reads an image goes through `read_image` (files) or `decode_image`
(bytes, e.g. an upload), so every command and the web service treat odd modes (palette,
16-bit, CMYK, transparency) and hostile files the same way.
Tensors are float32 in [-1, 1], channels first: 1 channel for sketches, 3 for color.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import SketchcolorError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
# Refuse images above this many pixels before decoding them (PIL's bomb check reads
# only the header). 100 MP covers a 10000x10000 page.
MAX_PIXELS = 100_000_000
# Ink is whatever is darker than mid-gray: the one line between a sketch's lines and its paper
# (composing, the line metrics, dataset filters), in each scale pixels are held in.
INK_LEVEL = 0.5  # in [0, 1]
INK_THRESHOLD = 2 * INK_LEVEL - 1  # in [-1, 1], the tensor scale: 0.0
INK_GRAY = 255 * INK_LEVEL  # in 8-bit gray: 127.5, so 127 is ink and 128 paper
# zlib level of the PNGs sketchcolor writes for users (colorized pages, the web service's answers).
# Pillow's default, 6, took 85 ms for a 1024 px page here, half of `colorize`'s time per page
# after the network; level 1 takes 40 ms for files ~45% larger (OpenCV's default is also 1).
PNG_LEVEL = 1


# PIL's own bomb guard, set once here rather than per call: decoding runs on the web service's
# worker threads, and a process-wide setting changed per call (or a warnings filter, which
# `catch_warnings` swaps per call, unsafely across threads) would race. Our limit is checked on
# each image's header in `_decode`; PIL's warning for images between its limit and twice it
# would only repeat that check, so it is silenced for our limit's range alone.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning, module="PIL")


class ImageReadError(SketchcolorError):
    """A file that is not a readable image (or is too large to decode safely)."""


class ImageTooLargeError(ImageReadError):
    """An image refused for its pixel count, before its pixels were decoded."""


def write_png(image: Image.Image, target: str | Path | BinaryIO) -> None:
    """`image` as a PNG at PNG_LEVEL, into a path or a binary buffer."""
    image.save(target, format="PNG", compress_level=PNG_LEVEL)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    write_png(image, buffer)
    return buffer.getvalue()


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode `path` fully and return it as an RGB image composited on white."""
    return _decode(Path(path), str(path), max_pixels)


def decode_image(data: bytes, name: str = "upload", max_pixels: int = MAX_PIXELS) -> Image.Image:
    """`read_image` for bytes already in memory (an upload); `name` is used in messages."""
    return _decode(io.BytesIO(data), name, max_pixels)


def read_layer(source: str | Path | bytes, name: str | None = None, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode a layer image (a file or bytes) as RGBA, its transparency kept: a hint layer,
    whose opaque pixels are the hints. One without transparency is refused by name."""
    name = name or str(source)
    data = io.BytesIO(source) if isinstance(source, bytes) else Path(source)
    return _decode(data, name, max_pixels, convert=lambda image: _with_alpha(image, name))


def _with_alpha(image: Image.Image, name: str) -> Image.Image:
    if "A" not in image.getbands() and "transparency" not in image.info:
        raise ImageReadError(f"{name}: has no transparency; a layer must be an RGBA PNG, opaque only where it paints")
    return image.convert("RGBA")


def _decode(source: Path | BinaryIO, name: str, max_pixels: int, convert=None) -> Image.Image:
    # The pixel count is checked on the header, before any pixel is decoded; every
    # failure becomes one ImageReadError that names the input.
    try:
        with Image.open(source) as image:
            if image.width * image.height > max_pixels:
                raise ImageTooLargeError(f"{name}: {image.width}x{image.height} exceeds the {max_pixels:,}-pixel limit")
            image.load()
            return (convert or to_rgb)(ImageOps.exif_transpose(image))
    except ImageReadError:
        raise
    except Image.DecompressionBombError:
        raise ImageTooLargeError(f"{name}: refused, larger than the {max_pixels:,}-pixel limit") from None
    except FileNotFoundError:
        raise ImageReadError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{name}: is a directory") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{name}: not an image") from None
    except (OSError, ValueError, SyntaxError) as err:
        raise ImageReadError(f"{name}: unreadable image ({err})") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB; transparency is composited on white, as on paper."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = _wide_to_gray(image)
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    return image.convert("RGB")


def _wide_to_gray(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer or float gray -> 8-bit, by the range its values are in: floats up to 1
    (as scientific tools write them) are 0-1, integers above 255 are 16-bit, the rest 8-bit."""
    array = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    top = array.max(initial=0.0)
    peak = 1.0 if image.mode == "F" and top <= 1.0 else 65535.0 if top > 255 else 255.0
    return Image.fromarray(np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")


def to_gray(image: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit gray, transparency on white (a sketch is ink on paper)."""
    return image if image.mode == "L" else to_rgb(image).convert("L")


def to_tensor(image: Image.Image, channels: int) -> torch.Tensor:
    """PIL image -> float tensor (channels, H, W) in [-1, 1]; channels is 1 (gray) or 3 (RGB)."""
    mode = {1: "L", 3: "RGB"}[channels]
    array = np.asarray(image.convert(mode), dtype=np.float32)
    if channels == 1:
        array = array[:, :, None]
    return torch.from_numpy(array.transpose(2, 0, 1).copy()) / 127.5 - 1.0


def to_pil(tensor: torch.Tensor) -> Image.Image:
    """Float tensor (C, H, W) in [-1, 1] -> 8-bit PIL image (L for 1 channel, RGB for 3)."""
    array = to_uint8(tensor).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)


def to_uint8(tensor: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 with rounding, any leading shape."""
    return ((tensor.detach().float().clamp(-1, 1) + 1.0) * 127.5 + 0.5).to(torch.uint8)


def mean_saturation(image: Image.Image) -> float:
    """Mean HSV saturation in [0, 1]; sketches are near 0, colored art is not."""
    hsv = np.asarray(image.convert("RGB").convert("HSV"), dtype=np.float32)
    return float(hsv[:, :, 1].mean() / 255.0)


def split_pair(image: Image.Image, sketch_side: str = "auto") -> tuple[Image.Image, Image.Image]:
    """Split a side-by-side pair into (sketch, color); `auto` picks the less saturated half."""
    half = image.width // 2
    left = image.crop((0, 0, half, image.height))
    right = image.crop((half, 0, 2 * half, image.height))
    if sketch_side == "auto":
        sketch_side = "left" if mean_saturation(left) < mean_saturation(right) else "right"
    if sketch_side == "left":
        return left, right
    if sketch_side == "right":
        return right, left
    raise SketchcolorError(f"data.sketch_side must be auto, left or right, not {sketch_side!r}")


def join_pair(sketch: Image.Image, color: Image.Image) -> Image.Image:
    """The inverse of `split_pair` in the paper's layout: color on the left, sketch on the right."""
    pair = Image.new("RGB", (color.width + sketch.width, color.height), "white")
    pair.paste(color.convert("RGB"), (0, 0))
    pair.paste(sketch.convert("RGB"), (color.width, 0))
    return pair


def list_images(root: str | Path) -> list[Path]:
    """Image files directly inside `root` (by suffix), sorted for determinism."""
    return sorted(p for p in Path(root).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
