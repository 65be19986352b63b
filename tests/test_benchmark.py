"""The benchmark runs end to end on the tiny preset and reports sane values (no timing assertions)."""

from __future__ import annotations

import json

from sketchcolor.benchmark import run_benchmark, write_json

KEYS = ("g_gflop", "infer_ms_bs1", "infer_backend", "train_images_per_s_bs4", "loader_images_per_s",
        "peak_rss_mb", "matmul_gflops_fp32", "matmul_gflops_bf16", "details", "machine")


def test_benchmark_tiny(tmp_path):
    # torch.compile is skipped here: inductor takes tens of seconds to compile even this model.
    result = run_benchmark("tiny", size=32, repeats=1, use_compile=False)
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


def test_failing_variant_is_recorded():
    from sketchcolor.benchmark import measure_variant

    def broken():
        raise RuntimeError("no kernel")

    record = measure_variant("broken", broken, {}, None, repeats=1)
    assert record["ok"] is False and "no kernel" in record["error"]
