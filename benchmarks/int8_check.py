"""Is int8 worth shipping on this CPU? ONNX Runtime static quantization of the bundled model,
calibrated on OpenMoji training sketches, against its fp32 export: batch-1 and batch-8 latency
on this machine, and how far its colors move on OpenMoji validation sketches.

    sketchcolor data openmoji --out data/openmoji --package openmoji-17.0.0.tgz   # once (npm pack openmoji)
    python benchmarks/int8_check.py --data data/openmoji --json benchmarks/results/int8-avx2.json

Quantization: QOperator format, per-channel int8 weights, uint8 activations, MinMax calibration
on 64 sketches, with `reduce_range` (7-bit weights): without it, AVX2's u8 x s8 multiply-add
(no VNNI) saturates in int16 and a pix2pix generator's outputs moved by 0.19 on average. The
graph is pre-processed first (`quant_pre_process`, shape inference with auto_merge). int8
is kept only if it is faster here; then its validation scores decide (paired intervals).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                     quant_pre_process, quantize_static)

from sketchcolor.atomic import atomic_write_text
from sketchcolor.benchmark import machine_info
from sketchcolor.checkpoint import load_model, resolve_model_dir
from sketchcolor.export import INPUT, export_onnx
from sketchcolor.hints import HINT_CHANNELS
from sketchcolor.imageio import list_images, read_image, split_pair
from sketchcolor.metrics import ssim
from sketchcolor.page import fit_region

CALIBRATION = 64
VALIDATION = 100
REPEATS = 7


def sketches(folder: Path, count: int, size: int, hints: bool) -> np.ndarray:
    """The first `count` pairs' sketches as the network's input (N, C, size, size), hint channels empty."""
    batch = []
    for path in list_images(folder)[:count]:
        sketch = fit_region(split_pair(read_image(path))[0].convert("L"), size).sketch
        if hints:
            sketch = torch.cat([sketch, torch.zeros(HINT_CHANNELS, size, size)])
        batch.append(sketch.numpy())
    return np.stack(batch).astype(np.float32)


class Calibration(CalibrationDataReader):
    def __init__(self, inputs: np.ndarray):
        self.feeds = iter({INPUT: inputs[i : i + 1]} for i in range(len(inputs)))

    def get_next(self) -> dict | None:
        return next(self.feeds, None)


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def latency_ms(run, inputs: np.ndarray) -> float:
    run(inputs)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run(inputs)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def outputs(model: ort.InferenceSession, inputs: np.ndarray) -> np.ndarray:
    return np.concatenate([model.run(None, {INPUT: inputs[i : i + 8]})[0] for i in range(0, len(inputs), 8)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="OpenMoji pairs (sketchcolor data openmoji)")
    parser.add_argument("--model", default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    model_dir = resolve_model_dir(args.model)
    generator, config, _ = load_model(model_dir)
    size, hints = config.data.size, config.generator.hints
    calibration = sketches(args.data / "train", CALIBRATION, size, hints)
    validation = sketches(args.data / "val", VALIDATION, size, hints)
    with tempfile.TemporaryDirectory() as work:
        fp32_path, prepared, int8_path = (Path(work) / name for name in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        export_onnx(model_dir, fp32_path)
        quant_pre_process(str(fp32_path), str(prepared), auto_merge=True)
        quantize_static(str(prepared), str(int8_path), Calibration(calibration), quant_format=QuantFormat.QOperator,
                        per_channel=True, reduce_range=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
        operators = dict(Counter(node.op_type for node in onnx.load(str(int8_path)).graph.node))
        fp32, int8 = session(fp32_path), session(int8_path)
        with torch.no_grad():
            def eager(x):
                return generator(torch.from_numpy(x))

            result = {"model": str(model_dir), "size": size, "operators_int8": operators, "latency_ms": {}}
            for batch in (1, 8):
                inputs = validation[:batch]
                result["latency_ms"][f"batch_{batch}"] = {
                    "torch_eager_fp32": latency_ms(eager, inputs),
                    "onnxruntime_fp32": latency_ms(lambda x: fp32.run(None, {INPUT: x}), inputs),
                    "onnxruntime_int8": latency_ms(lambda x: int8.run(None, {INPUT: x}), inputs)}
        reference, quantized = outputs(fp32, validation), outputs(int8, validation)
    difference = np.abs(quantized - reference)
    similarity = ssim(torch.from_numpy(quantized), torch.from_numpy(reference), data_range=2.0)  # colors in [-1, 1]
    result["outputs_vs_fp32"] = {"sketches": len(validation), "max_abs": float(difference.max()),
                                 "mean_abs": float(difference.mean()), "ssim_mean": float(similarity.mean()),
                                 "ssim_min": float(similarity.min())}
    result["machine"] = machine_info()
    text = json.dumps(result, indent=2) + "\n"
    if args.json:
        atomic_write_text(args.json, text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
