"""ONNX export checked against PyTorch, and the onnx / bf16 paths of Colorizer (tiny model, CPU)."""

import logging

import numpy as np
import onnx
import pytest
import torch
from conftest import run_cli
from PIL import Image, ImageDraw

from sketchcolor import Colorizer, runtime
from sketchcolor import export as onnx_export
from sketchcolor.checkpoint import load_model
from sketchcolor.errors import SketchcolorError
from sketchcolor.export import OnnxGenerator, export_onnx


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    """Keep the ONNX cache out of the real ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "sketchcolor" / "onnx"


def page() -> Image.Image:
    image = Image.new("L", (48, 40), 255)
    ImageDraw.Draw(image).ellipse([6, 5, 40, 34], outline=0, width=2)
    return image


def test_export_matches_pytorch_at_any_batch(model_dir, tmp_path):
    path = tmp_path / "tiny.onnx"
    assert export_onnx(model_dir, path) < 1e-4
    graph_input = onnx.load(str(path)).graph.input[0]
    assert graph_input.type.tensor_type.shape.dim[0].dim_param == "batch"
    generator, config, _ = load_model(model_dir)
    session = OnnxGenerator(path)
    assert session.config == config  # the file describes itself
    for batch, size in [(1, 32), (3, 32), (2, 64)]:  # sizes: multiples of 2**depth
        sketches = torch.rand(batch, 1, size, size, generator=torch.Generator().manual_seed(batch)) * 2 - 1
        with torch.no_grad():
            assert (session(sketches) - generator(sketches)).abs().max() < 1e-4


def test_a_failed_parity_check_writes_nothing(model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "PARITY_LIMIT", 0.0)
    with pytest.raises(SketchcolorError, match="differs from PyTorch"):
        export_onnx(model_dir, tmp_path / "bad.onnx")
    assert list(tmp_path.glob("*bad.onnx*")) == []


def test_onnx_backend_matches_torch_and_is_exported_once(model_dir, cache_home, monkeypatch):
    exports = []
    real_export = onnx_export.export_onnx
    monkeypatch.setattr(onnx_export, "export_onnx", lambda *a, **k: exports.append(a) or real_export(*a, **k))
    by_torch = Colorizer.from_pretrained(model_dir, device="cpu", backend="torch")
    by_onnx = Colorizer.from_pretrained(model_dir, device="cpu", backend="onnx")
    assert isinstance(by_torch.generator, torch.nn.Module) and isinstance(by_onnx.generator, OnnxGenerator)
    difference = np.abs(np.asarray(by_onnx(page()), np.int32) - np.asarray(by_torch(page()), np.int32))
    assert difference.max() <= 2
    again = Colorizer.from_pretrained(model_dir, device="cpu", backend="onnx")
    assert len(exports) == 1 and len(list(cache_home.glob("*.onnx"))) == 1
    assert again.generator.path == by_onnx.generator.path


def test_bf16_is_close_to_fp32_or_falls_back_with_a_note(model_dir, caplog):
    sketches = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    fp32 = Colorizer.from_pretrained(model_dir, device="cpu", precision="fp32")
    with caplog.at_level(logging.WARNING, logger="sketchcolor"):
        bf16 = Colorizer.from_pretrained(model_dir, device="cpu", precision="bf16")
    if bf16.precision == "bf16":
        assert (bf16.paint(sketches) - fp32.paint(sketches)).abs().max() < 1e-2
    else:
        assert "precision bf16" in caplog.text


def test_bf16_falls_back_to_fp32_with_one_note(model_dir, caplog, monkeypatch):
    monkeypatch.setattr(runtime, "cpu_autocast_bf16", lambda: False)  # as on a torch without it
    with caplog.at_level(logging.WARNING, logger="sketchcolor"):
        torch_bf16 = Colorizer.from_pretrained(model_dir, device="cpu", precision="bf16")
    assert torch_bf16.precision == "fp32" and caplog.text.count("precision bf16") == 1
    torch_bf16(page())
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sketchcolor"):
        onnx_bf16 = Colorizer.from_pretrained(model_dir, device="cpu", backend="onnx", precision="bf16")
    assert onnx_bf16.precision == "fp32" and "ONNX backend runs fp32" in caplog.text


def test_bad_backend_precision_or_file_is_a_clear_error(model_dir, tmp_path):
    with pytest.raises(SketchcolorError, match="backend one of"):
        Colorizer.from_pretrained(model_dir, device="cpu", backend="tensorrt")
    with pytest.raises(SketchcolorError, match="precision must be"):
        Colorizer.from_pretrained(model_dir, device="cpu", precision="fp8")  # refused before `auto` measures
    export_onnx(model_dir, tmp_path / "tiny.onnx")
    with pytest.raises(SketchcolorError, match="backend='onnx'"):
        Colorizer.from_pretrained(tmp_path / "tiny.onnx", device="cpu", backend="torch")
    assert Colorizer.from_pretrained(tmp_path / "tiny.onnx", device="cpu").backend == "onnx"  # auto: what runs it
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(SketchcolorError, match="not a runnable ONNX model"):
        Colorizer.from_pretrained(tmp_path / "junk.onnx", device="cpu", backend="onnx")


def test_cli_exports_and_colorizes_with_the_file(model_dir, tmp_path):
    exported = run_cli("export", "onnx", "--model", model_dir, "--out", tmp_path / "x.onnx")
    assert exported.returncode == 0, exported.stderr
    assert "max abs difference from PyTorch" in exported.stdout
    page().save(tmp_path / "page.png")
    colored = run_cli("colorize", tmp_path / "page.png", "-o", tmp_path / "out", "--model", tmp_path / "x.onnx",
                      "--backend", "onnx")
    assert colored.returncode == 0, colored.stderr
    assert Image.open(tmp_path / "out" / "page.png").size == (48, 40)
