"""The benchmark runs end to end on the tiny preset and reports sane values (no timing assertions)."""

from __future__ import annotations

import json

from sketchcolor.benchmark import run_benchmark, write_json

KEYS = ("g_gflop", "infer_ms_bs1", "infer_backend", "train_images_per_s_bs4", "loader_images_per_s",
        "peak_rss_mb", "matmul_gflops_fp32", "matmul_gflops_bf16", "details", "machine")


def test_benchmark_tiny(tmp_path, caplog):
    # torch.compile is skipped here: inductor takes tens of seconds to compile even this model.
    with caplog.at_level("INFO", logger="sketchcolor"):
        result = run_benchmark("tiny", size=32, repeats=1, use_compile=False, pages=3)
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("benchmark: ")]
    assert all(any(f"benchmark: {d['name']}: " in line for line in progress) for d in result["details"]), progress
    assert any("benchmark: training fp32: " in line for line in progress), progress
    path = tmp_path / "result.json"
    write_json(result, path)
    loaded = json.loads(path.read_text())
    assert all(key in loaded for key in KEYS)
    for key in ("g_gflop", "infer_ms_bs1", "train_images_per_s_bs4", "loader_images_per_s", "peak_rss_mb",
                "matmul_gflops_fp32", "matmul_gflops_bf16"):
        assert loaded[key] > 0, key
    names = [d["name"] for d in loaded["details"]]
    assert "torch-eager-fp32" in names and loaded["infer_backend"] in names
    eager = loaded["details"][names.index("torch-eager-fp32")]
    assert eager["ok"] and eager["max_abs_diff"] == 0 and 0 < eager["fraction_of_peak_bs1"]
    assert all(d["ok"] or d["error"] for d in loaded["details"])
    assert loaded["machine"]["threads"] >= 1
    # bf16 is measured only where it is native; elsewhere it is skipped, and the result says why.
    from sketchcolor.benchmark import bf16_skip_reason

    measured_bf16 = any(d["precision"] == "bf16" for d in loaded["details"])
    assert measured_bf16 == (bf16_skip_reason() is None) == ("train_images_per_s_bs4_bf16" in loaded)
    assert loaded["skipped"] == ({} if measured_bf16 else {"bf16": bf16_skip_reason()})
    # `--backend auto` measured from scratch picks one of the variants measured above.
    auto = loaded["auto"]["one_sketch"]
    assert auto["choice"] in ("torch/fp32", "onnx/fp32", "torch/bf16") and auto["latency_ms_bs1"] > 0
    assert any(line.startswith("benchmark: backend auto for one sketch: ") for line in progress), progress
    # colorize end to end: every backend wrote every page, and each stage's time is accounted for.
    pages = loaded["colorize"]
    assert set(pages["backends"]) == {"auto", "torch", "onnx"} and pages["pages"] == 3
    assert all(run["pages_per_s"] > run["job_pages_per_s"] > 0 for run in pages["backends"].values())
    assert pages["backends"]["onnx"]["runs"] == "onnx/fp32"
    assert set(pages["stage_ms"]) == {"decode", "fit", "network", "smooth", "compose", "encode"}
    assert all(ms > 0 for ms in pages["stage_ms"].values()), pages["stage_ms"]


def test_failing_variant_is_recorded():
    from sketchcolor.benchmark import measure_variant

    def broken():
        raise RuntimeError("no kernel")

    record = measure_variant("broken", broken, {}, None, repeats=1)
    assert record["ok"] is False and "no kernel" in record["error"]
