"""A malformed-input corpus, made by code (no third-party files): what a careless user or an
attacker hands every command and endpoint that reads files.

`image_corpus` makes pages: broken ones that must be refused by name, and odd but valid ones
(16-bit, CMYK, palette with transparency, 1x1, 2000x7, ...) that must be colorized.
`hint_corpus` makes hint files that must be refused; `model_corpus` model directories;
`config_corpus` YAML configs. Each maker writes into a folder and returns `Item`s.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw


@dataclass(frozen=True)
class Item:
    name: str  # an id, e.g. "zero-byte"
    path: Path  # the file, folder or symlink made
    valid: bool = False  # an odd but valid input: it must be processed, not refused
    uploadable: bool = True  # False: not a file (a folder named like an image, a broken symlink)


def random_hint_model(folder: Path) -> Path:
    """A seeded random-weight tiny model that takes color hints, saved as folder/model: checks of
    how files and requests are handled need a model that reads hints, not one that paints well."""
    import torch

    from sketchcolor.checkpoint import save_model
    from sketchcolor.config import load_config
    from sketchcolor.models import build_generator

    config = load_config("tiny", ["generator.hints=true"])
    torch.manual_seed(0)
    return save_model(folder / "model", build_generator(config.generator), config)


def sketch(size: tuple[int, int] = (64, 64)) -> Image.Image:
    """A small valid sketch: black outlines on white."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse([w * 0.15, h * 0.15, w * 0.85, h * 0.85], outline=0, width=max(1, min(w, h) // 24))
    draw.line([0, h // 2, w, h // 2], fill=0, width=max(1, min(w, h) // 32))
    return image


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with one tiny compressed row: a decompression bomb's
    front page. Only the header is ever read, so it is refused for its size before any decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _bytes_items() -> dict[str, tuple[str, Callable[[], bytes]]]:
    """Refused files: name -> (file name, bytes)."""
    png = encoded(sketch(), "PNG")
    jpeg = encoded(sketch().convert("RGB"), "JPEG", quality=90)
    return {
        "zero-byte": ("zero-byte.png", lambda: b""),
        "truncated-png": ("truncated.png", lambda: png[: len(png) // 2]),
        "truncated-jpeg": ("truncated.jpg", lambda: jpeg[: len(jpeg) // 2]),
        "text": ("notes.png", lambda: b"this is a text file, not a picture\n" * 4),
        "random-bytes": ("noise.jpg", lambda: np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()),
        "bomb-header": ("bomb.png", lambda: png_header_claiming(100_000, 100_000)),
        "svg": ("drawing.svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
                                     b'<circle cx="32" cy="32" r="20" stroke="black" fill="none"/></svg>'),
    }


def _odd_valid_images() -> dict[str, tuple[str, Callable[[], bytes]]]:
    """Valid pages in odd shapes and modes: name -> (file name, bytes)."""
    def sixteen_bit() -> bytes:
        array = (np.asarray(sketch(), dtype=np.uint16) * 257).astype(np.uint16)
        return encoded(Image.fromarray(array), "PNG")  # uint16 -> mode I;16

    def palette_transparent() -> bytes:
        image = sketch().convert("P")
        return encoded(image, "PNG", transparency=255)  # the paper (index 255) transparent

    def transparent() -> bytes:
        return encoded(Image.new("RGBA", (64, 64), (0, 0, 0, 0)), "PNG")

    def animated() -> bytes:
        frames = [sketch().convert("P"), Image.new("P", (64, 64), 0)]
        return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)

    def multipage() -> bytes:
        return encoded(sketch().convert("RGB"), "TIFF", save_all=True, append_images=[Image.new("RGB", (64, 64))])

    def float_tiff() -> bytes:  # values 0-1, as scientific tools write them
        return encoded(Image.fromarray(np.asarray(sketch(), dtype=np.float32) / 255.0, "F"), "TIFF")

    return {
        "1x1": ("one-pixel.png", lambda: encoded(Image.new("L", (1, 1), 0), "PNG")),
        "2000x7": ("strip.png", lambda: encoded(sketch((2000, 7)), "PNG")),
        "16-bit": ("sixteen-bit.png", sixteen_bit),
        "cmyk": ("cmyk.jpg", lambda: encoded(sketch().convert("CMYK"), "JPEG")),
        "palette-transparent": ("palette.png", palette_transparent),
        "transparent": ("transparent.png", transparent),
        "animated-gif": ("animated.gif", animated),
        "multipage-tiff": ("pages.tiff", multipage),
        "float-tiff": ("float.tif", float_tiff),
        "spaces": ("name with spaces.png", lambda: encoded(sketch(), "PNG")),
        "non-ascii": ("ペン画 ünïcödé.png", lambda: encoded(sketch(), "PNG")),
    }


def image_corpus(folder: Path) -> list[Item]:
    """Write the page corpus into `folder` (created) and return its items."""
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for valid, table in ((False, _bytes_items()), (True, _odd_valid_images())):
        for name, (file_name, make) in table.items():
            path = folder / file_name
            path.write_bytes(make())
            items.append(Item(name, path, valid=valid))
    (folder / "folder.png").mkdir(exist_ok=True)
    (folder / "folder.png" / "readme.txt").write_text("a folder named like an image\n")
    items.append(Item("folder-named-png", folder / "folder.png", uploadable=False))
    link = folder / "broken-link.png"
    link.unlink(missing_ok=True)
    link.symlink_to(folder / "nowhere.png")
    items.append(Item("broken-symlink", link, uploadable=False))
    return items


def hint_corpus(folder: Path, page_size: tuple[int, int] = (64, 64)) -> list[Item]:
    """Hint files that must be refused (for a page of `page_size`), and one valid empty one."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = page_size
    point = {"x": w // 2, "y": h // 2, "color": "#ff0000"}
    texts = {
        "hints-not-json": "{points: oops",
        "hints-list": json.dumps([point]),
        "hints-bad-color": json.dumps({"points": [{**point, "color": "#zzzzzz"}]}),
        "hints-off-page": json.dumps({"points": [{**point, "x": w * 100}]}),
        "hints-nan": '{"points": [{"x": NaN, "y": 1, "color": "#ff0000"}]}',
        "hints-negative-radius": json.dumps({"points": [{**point, "radius": -5}]}),
        "hints-bad-units": json.dumps({"units": "furlongs", "points": [point]}),
        "hints-stroke-no-points": json.dumps({"strokes": [{"points": [], "color": "#00ff00"}]}),
        "hints-zero-byte": "",
    }
    items = []
    for name, text in texts.items():
        path = folder / f"{name}.json"
        path.write_text(text)
        items.append(Item(name, path))
    layers = {
        "layer-opaque": encoded(Image.new("RGB", page_size, (255, 0, 0)), "PNG"),
        "layer-truncated": encoded(Image.new("RGBA", page_size, (255, 0, 0, 255)), "PNG")[:40],
    }
    for name, data in layers.items():
        path = folder / f"{name}.hints.png"
        path.write_bytes(data)
        items.append(Item(name, path))
    empty = folder / "hints-empty.json"
    empty.write_text(json.dumps({"points": []}))
    items.append(Item("hints-empty", empty, valid=True))
    return items


def model_corpus(folder: Path, good: Path) -> list[Item]:
    """Broken copies of the model directory `good`: each must be refused by name."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = (good / "generator.safetensors").read_bytes()
    config = json.loads((good / "config.json").read_text())

    def model(name: str, weights_bytes: bytes | None, config_text: str | None) -> Item:
        path = folder / name
        path.mkdir(exist_ok=True)
        if weights_bytes is not None:
            (path / "generator.safetensors").write_bytes(weights_bytes)
        if config_text is not None:
            (path / "config.json").write_text(config_text)
        return Item(name, path)

    other = json.loads(json.dumps(config))
    other["config"]["generator"]["ngf"] = config["config"]["generator"]["ngf"] * 2
    return [
        model("truncated-weights", weights[: len(weights) // 2], json.dumps(config)),
        model("no-config", weights, None),
        model("config-not-json", weights, "{config: "),
        model("config-list", weights, json.dumps([config])),
        model("config-other-architecture", weights, json.dumps(other)),
        model("config-not-a-config", weights, json.dumps({"format": config.get("format"), "config": {"generator": 3}})),
        model("empty-folder", None, None),
    ]


# YAML configs that must be refused, by name.
BAD_CONFIGS = {
    "yaml-syntax": "train: {lr: [\n",
    "yaml-list": "- train\n- data\n",
    "yaml-unknown-key": "train:\n  learning_rate: 0.1\n",
    "yaml-wrong-type": "train:\n  batch_size: many\n",
    "yaml-bad-value": "train:\n  batch_size: 0\n",
    "yaml-binary": "\x00\x01\x02 not yaml \xff",
}


def config_corpus(folder: Path) -> list[Item]:
    """BAD_CONFIGS as files."""
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for name, text in BAD_CONFIGS.items():
        path = folder / f"{name}.yaml"
        path.write_text(text)
        items.append(Item(name, path))
    return items


# --set values that must be refused with one error line (key=value).
BAD_OVERRIDES = ("train.batch_size=0", "train.batch_size=-4", "train.lr=-1", "data.size=0", "train.lr=fast",
                 "train.no_such_key=1", "nosection.lr=1", "train.lr")
