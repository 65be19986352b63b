"""Pixel, SSIM and color metrics against scikit-image and published reference values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import draw_pair
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sketchcolor.errors import SketchcolorError
from sketchcolor.metrics import ciede2000, colorfulness, delta_e_2000, luma, mean_abs_error, psnr, ssim


def random_pair(seed: int = 0, size: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    """Two related random batches: b is a noisy, clipped copy of a."""
    generator = torch.Generator().manual_seed(seed)
    a = torch.rand(2, 3, size, size, generator=generator)
    b = (a + 0.2 * torch.randn(a.shape, generator=generator)).clamp(0, 1)
    return a, b


def drawn_pair(size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """Structured images: flat shapes with outlines, against a shifted, tinted version and another drawing."""
    images = [np.asarray(draw_pair(seed, size)[1], dtype=np.float32) / 255 for seed in (0, 1, 2)]
    a = torch.from_numpy(np.stack(images[:2])).permute(0, 3, 1, 2)
    shifted = np.roll(images[0], 2, axis=1) * np.array([0.9, 1.0, 0.8], dtype=np.float32)
    b = torch.from_numpy(np.stack([shifted, images[2]])).permute(0, 3, 1, 2)
    return a, b


def as_hwc(x: torch.Tensor, index: int) -> np.ndarray:
    return x[index].permute(1, 2, 0).double().numpy()


def skimage_ssim(a: torch.Tensor, b: torch.Tensor, index: int, channels: str) -> float:
    x, y = as_hwc(a, index), as_hwc(b, index)
    if channels == "luma":
        x, y = x @ [0.299, 0.587, 0.114], y @ [0.299, 0.587, 0.114]
    options = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
    return structural_similarity(x, y, channel_axis=None if channels == "luma" else -1, **options)


@pytest.mark.parametrize("channels", ["rgb", "luma"])
@pytest.mark.parametrize("make", [random_pair, drawn_pair])
def test_ssim_matches_skimage(make, channels: str) -> None:
    a, b = make()
    ours = ssim(a, b, channels=channels)
    assert ours.shape == (2,)
    expected = [skimage_ssim(a, b, index, channels) for index in range(2)]
    assert ours.tolist() == pytest.approx(expected, abs=1e-3)
    assert expected[0] < 0.95  # the pairs really differ, so agreement is not trivial


def test_ssim_identical_and_single_channel() -> None:
    a, b = random_pair()
    assert ssim(a, a).tolist() == pytest.approx([1.0, 1.0], abs=1e-5)
    gray = ssim(luma(a), luma(b))
    assert torch.allclose(gray, ssim(a, b, channels="luma"))
    expected = structural_similarity(
        as_hwc(luma(a), 0)[..., 0], as_hwc(luma(b), 0)[..., 0],
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0,
    )  # fmt: skip
    assert gray[0].item() == pytest.approx(expected, abs=1e-3)


def test_ssim_rejects_images_smaller_than_the_window() -> None:
    with pytest.raises(SketchcolorError, match="11x11"):
        ssim(torch.rand(1, 3, 8, 32), torch.rand(1, 3, 8, 32))


def test_psnr_and_mae() -> None:
    a, b = random_pair()
    expected = [peak_signal_noise_ratio(as_hwc(a, i), as_hwc(b, i), data_range=1.0) for i in range(2)]
    assert psnr(a, b).tolist() == pytest.approx(expected, abs=1e-3)
    assert torch.isfinite(psnr(a, a)).all()
    assert psnr(a, a)[0] > psnr(a, b)[0]
    expected_mae = [np.abs(as_hwc(a, i) - as_hwc(b, i)).mean() for i in range(2)]
    assert mean_abs_error(a, b).tolist() == pytest.approx(expected_mae)


def test_colorfulness() -> None:
    gray = torch.rand(2, 1, 16, 16).expand(2, 3, 16, 16)
    assert colorfulness(gray).tolist() == pytest.approx([0.0, 0.0], abs=1e-3)
    saturated = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    faded = 0.3 * saturated + 0.7 * saturated.mean(dim=1, keepdim=True)
    assert (colorfulness(saturated) > colorfulness(faded)).all()
    # A red and a blue pixel, 0-255 scale: rg = (255, 0), yb = (127.5, -255).
    red_blue = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]).view(1, 3, 1, 2)
    std_rg, std_yb, mean_rg, mean_yb = 127.5, 191.25, 127.5, -63.75
    expected = math.hypot(std_rg, std_yb) + 0.3 * math.hypot(mean_rg, mean_yb)
    assert colorfulness(red_blue).item() == pytest.approx(expected, rel=1e-5)


def test_ciede2000_matches_skimage() -> None:
    a, b = random_pair(seed=1, size=24)
    expected = [deltaE_ciede2000(rgb2lab(as_hwc(a, i)), rgb2lab(as_hwc(b, i))).mean() for i in range(2)]
    assert ciede2000(a, b).tolist() == pytest.approx(expected, abs=1e-3)
    assert ciede2000(a, a).tolist() == pytest.approx([0.0, 0.0], abs=1e-4)


# Sharma, Wu & Dalal (2005), Table 1: (Lab 1, Lab 2, ΔE00). Pairs 1, 7, 10, 11, 14, 15, 17-20,
# 25-34 exercise zero chroma, both hue-mean branches, the hue wrap and low lightness.
SHARMA_PAIRS = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0010), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0010, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def test_delta_e_2000_published_pairs() -> None:
    # float64: pairs 10 and 14 sit exactly on the 180-degree hue boundary, which float32 cannot resolve.
    lab1, lab2, expected = (torch.tensor(column, dtype=torch.float64) for column in zip(*SHARMA_PAIRS))
    assert delta_e_2000(lab1, lab2).tolist() == pytest.approx(expected.tolist(), abs=1e-4)
    assert delta_e_2000(lab2, lab1).tolist() == pytest.approx(expected.tolist(), abs=1e-4)  # symmetric


PER_IMAGE = [ssim, psnr, mean_abs_error, ciede2000, lambda a, b: colorfulness(a), lambda a, b: ssim(a, b, channels="luma")]


@pytest.mark.parametrize("metric", PER_IMAGE)
def test_metrics_keep_to_the_input_device(metric) -> None:
    # Meta tensors carry no data, but mixing them with a CPU constant raises: a cheap stand-in for CUDA.
    a, b = torch.empty(2, 3, 16, 16, device="meta"), torch.empty(2, 3, 16, 16, device="meta")
    out = metric(a, b)
    assert out.shape == (2,) and out.device.type == "meta"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("metric", PER_IMAGE)
def test_metrics_agree_on_cuda(metric) -> None:
    a, b = random_pair()
    assert torch.allclose(metric(a.cuda(), b.cuda()).cpu(), metric(a, b), rtol=1e-4, atol=1e-4)
