"""`--backend auto` on a CPU: measured once per machine, model shape and batch, cached, and
the fastest job (set-up included) wins; bf16 only where native, compile only for long jobs."""

import json
import logging
import time

import pytest
import torch

from sketchcolor import Colorizer, backend_choice, runtime
from sketchcolor.backend_choice import CACHE_FILE, Candidate, candidates, choose
from sketchcolor.runtime import COMPILE_MIN_IMAGES


class Timed:
    """A stand-in colorizer whose network call takes a known time (sleeps), and that
    records which candidate built it."""

    def __init__(self, candidate: Candidate, call_s: float):
        self.candidate, self.call_s = candidate, call_s

    def paint(self, sketches, size):
        time.sleep(self.call_s)


def timed_builds(setup_s: dict[str, float], call_s: dict[str, float], built: list[str]):
    def build(candidate: Candidate) -> Timed:
        built.append(candidate.name)
        time.sleep(setup_s.get(candidate.backend, 0.0))
        return Timed(candidate, call_s[candidate.backend])

    return build


@pytest.fixture
def fp32_only(monkeypatch):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx2", "fma"}))


def test_the_fastest_job_wins_set_up_included(tmp_path, tiny_config, fp32_only):
    # onnx: 0.4 s to set up, then 4x faster per batch than torch.
    setup, calls = {"onnx": 0.4}, {"torch": 0.04, "onnx": 0.01}
    built: list[str] = []
    short = choose(timed_builds(setup, calls, built), tiny_config, size=32, batch=1, images=1, cache_dir=tmp_path)
    assert short.candidate.name == "torch/fp32" and built == ["torch/fp32", "onnx/fp32"]  # each measured once
    built.clear()
    long = choose(timed_builds(setup, calls, built), tiny_config, size=32, batch=1, images=100, cache_dir=tmp_path)
    assert long.candidate.name == "onnx/fp32"
    assert built == ["onnx/fp32"]  # read from the cache: only the winner is built, nothing measured


def test_measurements_are_cached_per_cpu_and_batch(tmp_path, tiny_config, fp32_only, monkeypatch, caplog):
    built: list[str] = []
    build = timed_builds({}, {"torch": 0.001, "onnx": 0.05}, built)  # far apart: a loaded machine oversleeps
    with caplog.at_level(logging.INFO, logger="sketchcolor"):
        choose(build, tiny_config, size=32, batch=2, images=10, cache_dir=tmp_path)
    assert "backend auto: torch/fp32" in caplog.text and "ms/image" in caplog.text
    cache = json.loads((tmp_path / CACHE_FILE).read_text())
    (entry,) = cache.values()
    assert entry["batch"] == 2 and set(entry["timings"]) == {"torch/fp32", "onnx/fp32"}
    built.clear()
    choose(build, tiny_config, size=32, batch=4, images=10, cache_dir=tmp_path)  # another batch: measured
    assert built == ["torch/fp32", "onnx/fp32"]
    built.clear()
    monkeypatch.setattr(backend_choice, "cpu_model", lambda: "Another CPU")  # another machine: measured
    choose(build, tiny_config, size=32, batch=4, images=10, cache_dir=tmp_path)
    assert built == ["torch/fp32", "onnx/fp32"] and len(json.loads((tmp_path / CACHE_FILE).read_text())) == 3


def test_a_torn_cache_is_measured_again_and_an_unwritable_one_only_warned(tmp_path, tiny_config, fp32_only, caplog):
    (tmp_path / CACHE_FILE).write_text('{"abc": {"timings": {"torch/fp32": {"bogus": 1}}}} trailing')
    built: list[str] = []
    build = timed_builds({}, {"torch": 0.001, "onnx": 0.05}, built)  # far apart: a loaded machine oversleeps
    assert choose(build, tiny_config, size=32, batch=1, images=1, cache_dir=tmp_path).candidate.backend == "torch"
    assert len(json.loads((tmp_path / CACHE_FILE).read_text())) == 1
    blocked = tmp_path / "file"
    blocked.write_text("")
    with caplog.at_level(logging.WARNING, logger="sketchcolor"):
        chosen = choose(build, tiny_config, size=32, batch=1, images=1, cache_dir=blocked / "cache")
    assert chosen.candidate.backend == "torch" and "could not cache" in caplog.text


def test_a_candidate_that_cannot_run_here_is_skipped(tmp_path, tiny_config, fp32_only):
    def build(candidate: Candidate) -> Timed:
        if candidate.backend == "onnx":
            raise RuntimeError("no onnxruntime kernel for this op")
        return Timed(candidate, 0.001)

    chosen = choose(build, tiny_config, size=32, batch=1, images=1, cache_dir=tmp_path)
    assert chosen.candidate.name == "torch/fp32"
    assert set(json.loads((tmp_path / CACHE_FILE).read_text()).popitem()[1]["timings"]) == {"torch/fp32"}


def test_bf16_only_where_native_and_compile_only_for_long_jobs(monkeypatch):
    monkeypatch.setattr(runtime, "compile_works", lambda: True)
    monkeypatch.setattr(backend_choice, "compile_works", lambda: True)
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx2", "fma"}))  # AMD EPYC: emulated bf16
    assert {c.name for c in candidates("auto", 10)} == {"torch/fp32", "onnx/fp32"}
    assert {c.name for c in candidates("auto", COMPILE_MIN_IMAGES)} == {"torch/fp32", "onnx/fp32", "compile/fp32"}
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert {c.name for c in candidates("auto", 10)} == {"torch/fp32", "torch/bf16", "onnx/fp32"}  # never onnx bf16
    assert {c.name for c in candidates("fp32", 10)} == {"torch/fp32", "onnx/fp32"}
    monkeypatch.setattr(backend_choice, "compile_works", lambda: False)  # no C++ compiler: never a candidate
    assert "compile/fp32" not in {c.name for c in candidates("auto", 10_000)}


def test_auto_on_a_real_model_runs_a_measured_backend(model_dir, fp32_only):
    colorizer = Colorizer.from_pretrained(model_dir, device="cpu", batch_size=2, images=3)
    assert colorizer.backend in ("torch", "onnx") and colorizer.precision == "fp32"
    assert colorizer.paint(torch.zeros(2, 1, 32, 32)).shape == (2, 3, 32, 32)
    cache = json.loads((backend_choice.default_cache_dir() / CACHE_FILE).read_text())  # the suite's own cache
    key = backend_choice.cache_key(colorizer.config, colorizer.size, 2)
    assert set(cache[key]["timings"]) == {"torch/fp32", "onnx/fp32"}


def test_the_web_service_runs_what_auto_measured_at_batch_one(model_dir, fp32_only, monkeypatch):
    from sketchcolor.serve import Settings, create_app

    monkeypatch.setattr(backend_choice, "compile_works", lambda: False)  # seconds, not a compile
    service = create_app(Settings(model=str(model_dir))).state.service  # backend auto is the default
    colorizer = service.colorizer
    assert colorizer.batch_size == 1 and colorizer.backend in ("torch", "onnx")
    cache = json.loads((backend_choice.default_cache_dir() / CACHE_FILE).read_text())
    assert backend_choice.cache_key(colorizer.config, colorizer.size, 1) in cache
