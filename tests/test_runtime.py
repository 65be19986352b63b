"""Backend and precision choice, and the frozen compiled generator."""

import logging

import pytest
import torch

from sketchcolor import Colorizer, runtime
from sketchcolor.checkpoint import save_model
from sketchcolor.models import build_generator
from sketchcolor.runtime import FrozenCompiled, pick_backend, pick_precision

CPU = torch.device("cpu")


def test_unmeasured_auto_backend_is_eager_torch():
    # Colorizer(...) built directly, or on a GPU: no measurement (backend_choice.py is for CPUs).
    assert pick_backend("auto") == "torch"
    assert pick_backend("onnx") == "onnx"


def test_auto_precision_is_bf16_only_on_native_hardware(monkeypatch, caplog):
    monkeypatch.setattr(runtime, "cpu_autocast_bf16", lambda: True)
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert pick_precision("auto", CPU, "torch") == "bf16"
    assert pick_precision("auto", CPU, "onnx") == "fp32"
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx2"}))  # emulated bf16 is slower
    with caplog.at_level(logging.WARNING, logger="sketchcolor"):
        assert pick_precision("auto", CPU, "torch") == "fp32"
        assert pick_precision("bf16", CPU, "torch") == "bf16"  # asked for explicitly: it runs
    assert caplog.text == ""


def test_frozen_compiled_generator_matches_eager_and_pads_batches(tiny_config, tmp_path):
    if not runtime.compile_works():
        pytest.skip("torch.compile cannot build on this machine")
    torch.manual_seed(0)
    model_dir = save_model(tmp_path / "model", build_generator(tiny_config.generator), tiny_config)
    eager = Colorizer.from_pretrained(model_dir, device="cpu", backend="torch", precision="fp32")
    compiled = Colorizer.from_pretrained(model_dir, device="cpu", backend="compile", precision="fp32", batch_size=4)
    assert isinstance(compiled.run, FrozenCompiled)
    sketches = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    got = compiled.paint(sketches)  # 3 of a batch of 4: padded, then cut back
    assert got.shape == (3, 3, 32, 32)
    assert (got - eager.paint(sketches)).abs().max() < 1e-4


def test_training_in_emulated_bf16_is_warned_about(monkeypatch, caplog, tiny_config, tmp_path):
    from sketchcolor.train import make_trainer

    config = tiny_config.with_overrides(["train.amp_on_cpu=true", "train.device=cpu"])
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx2", "fma"}))  # AMD EPYC, AVX2 only
    with caplog.at_level(logging.WARNING, logger="sketchcolor"):
        make_trainer(config, tmp_path / "emulated")
    assert "bf16 is emulated on this CPU" in caplog.text
    caplog.clear()
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    with caplog.at_level(logging.WARNING, logger="sketchcolor"):
        make_trainer(config, tmp_path / "native")
    assert "emulated" not in caplog.text
