"""ONNX export of a generator, checked against PyTorch numerically, and the ONNX Runtime
generator behind `Colorizer(backend="onnx")`.

Exporter: torch's TorchScript-based one (`dynamo=False`). With torch 2.14 it exports this
network in a fraction of a second, needs no extra package and leaves every axis free; the
torch.export-based one needs onnxscript, takes seconds and pins height and width to the
example's size. torch has announced the legacy exporter's removal: moving is then this one call.

Axes: batch, height and width are all dynamic (the network is fully convolutional), but height
and width must be multiples of 2**depth, as in PyTorch; `Colorizer` always feeds its working size.
The file carries the model's config in its metadata, so it describes itself like a model directory.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from .atomic import atomic_path
from .checkpoint import CONFIG_FILE, WEIGHTS_FILE, load_model
from .config import Config
from .errors import SketchcolorError
from .models import generator_inputs
from .paths import default_cache_dir

log = logging.getLogger("sketchcolor")
OPSET = 18  # run by every onnxruntime since 1.14
OPSETS = range(7, 21)  # what torch's TorchScript-based exporter can write
PARITY_LIMIT = 1e-4  # max |ONNX - PyTorch| in [-1, 1] units, fp32
INPUT, OUTPUT = "sketch", "colors"
CONFIG_KEY = "sketchcolor_config"


def export_onnx(model_dir: str | Path, out_path: str | Path, *, opset: int = OPSET) -> float:
    """Export a model directory to `out_path` and return the max abs difference from PyTorch.

    The file only appears if that difference is under `PARITY_LIMIT`; otherwise this raises.
    """
    if opset not in OPSETS:
        raise SketchcolorError(f"opset must be between {OPSETS.start} and {OPSETS.stop - 1}, not {opset}")
    generator, config, _ = load_model(model_dir, device="cpu")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_path) as tmp:
        tmp.write_bytes(onnx_bytes(generator, config, opset=opset))
        difference = max_abs_difference(generator, OnnxGenerator(tmp), size=config.data.size,
                                        channels=generator_inputs(config.generator))
        if not difference < PARITY_LIMIT:  # also catches NaN
            raise SketchcolorError(f"ONNX export of {model_dir} differs from PyTorch by {difference:.2e} "
                                   f"(limit {PARITY_LIMIT:.0e}); nothing written")
    return difference


def onnx_bytes(generator: nn.Module, config: Config, *, opset: int = OPSET) -> bytes:
    """The serialized ONNX model of `generator` (eval mode) with `config` in its metadata."""
    example = torch.zeros(1, generator_inputs(config.generator), config.data.size, config.data.size)
    axes = {0: "batch", 2: "height", 3: "width"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the legacy exporter's deprecation notice, on every call
        warnings.filterwarnings("ignore", message=".*(legacy TorchScript-based ONNX|feature will be removed)")
        torch.onnx.export(generator.eval(), (example,), buffer, input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: axes, OUTPUT: axes}, opset_version=opset, dynamo=False)
    model = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(model, {CONFIG_KEY: json.dumps(config.to_dict())})
    return model.SerializeToString()


@torch.no_grad()
def max_abs_difference(generator: nn.Module, other, *, size: int, channels: int = 1, batch: int = 3,
                       seed: int = 0) -> float:
    """Max |generator(x) - other(x)| over a batch of random inputs in [-1, 1] (CPU, fp32): sketches,
    and hint channels for a generator that takes them.

    `batch` differs from the export example's 1, so this also checks the dynamic batch axis.
    """
    sketches = torch.rand(batch, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    expected = generator.cpu().eval()(sketches)
    return (other(sketches).cpu() - expected).abs().max().item()


class OnnxGenerator:
    """An ONNX Runtime session with the generator's interface: a (B, C, H, W) torch tensor in,
    (B, 3, H, W) out, on the input's device. Session set-up is paid once, in the constructor."""

    def __init__(self, path: str | Path, *, device: torch.device = torch.device("cpu")):
        self.path = Path(path)
        options = ort.SessionOptions()
        # Same thread count as torch, so OMP_NUM_THREADS / set_num_threads govern both backends.
        options.intra_op_num_threads = torch.get_num_threads()
        # Idle threads sleep instead of spinning: in `colorize`'s pipeline the spinning took the
        # cores that compose pages (6.0 -> 6.5 pages/s on 2 cores), for no gain on the network.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=_providers(device))
        except Exception as err:  # onnxruntime raises its own types for unreadable or invalid files
            raise SketchcolorError(f"{self.path}: not a runnable ONNX model ({err})") from None

    @property
    def config(self) -> Config:
        """The config of the model this file was exported from."""
        raw = self.session.get_modelmeta().custom_metadata_map.get(CONFIG_KEY)
        if raw is None:
            raise SketchcolorError(f"{self.path} was not exported by sketchcolor (no config in its metadata)")
        return Config.from_dict(json.loads(raw))

    def __call__(self, sketch: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(sketch.detach().float().cpu().numpy())
        (colors,) = self.session.run([OUTPUT], {INPUT: array})
        return torch.from_numpy(colors).to(sketch.device)


def _providers(device: torch.device) -> list:
    if device.type != "cuda":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        log.warning("this onnxruntime has no CUDA provider (install onnxruntime-gpu): running ONNX on the CPU")
        return ["CPUExecutionProvider"]
    return [("CUDAExecutionProvider", {"device_id": device.index or 0}), "CPUExecutionProvider"]


def load_onnx(path: Path, *, device: torch.device, cache_dir: Path | None = None) -> tuple[OnnxGenerator, Config]:
    """An `.onnx` file as it is, or a model directory through the export cache."""
    if path.is_dir():
        path = cached_onnx(path, cache_dir=cache_dir)
    generator = OnnxGenerator(path, device=device)
    return generator, generator.config


def cached_onnx(model_dir: Path, *, cache_dir: Path | None = None, opset: int = OPSET) -> Path:
    """The model directory's ONNX export, made once and then reused from the cache.

    The key hashes the weights file and config.json (together they fix the network and the
    working size stored in the export), the opset and torch's version (the exporter).
    """
    files = [model_dir / CONFIG_FILE, model_dir / WEIGHTS_FILE]
    if not all(file.is_file() for file in files):
        raise SketchcolorError(f"{model_dir} is not a model directory (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    digest = hashlib.sha256(f"{opset}|{torch.__version__}".encode())
    for file in files:
        digest.update(file.read_bytes())
    path = (cache_dir or default_cache_dir() / "onnx") / f"{digest.hexdigest()[:24]}.onnx"
    if not path.is_file():
        log.info("exporting %s to ONNX once; cached as %s", model_dir, path)
        export_onnx(model_dir, path, opset=opset)
    return path
