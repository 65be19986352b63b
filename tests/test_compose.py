import numpy as np
import torch
from PIL import Image

from sketchcolor.compose import flat_colors, lay_lines_over, render, smooth_within_lines


def test_flat_colors_fill_line_pixels_from_their_surroundings():
    colors = torch.zeros(1, 3, 16, 16)
    colors[:, 0] = 0.8  # a red-ish field ...
    colors[:, :, 7:9, :] = -1.0  # ... across which the network drew a dark line
    sketches = torch.ones(1, 1, 16, 16)
    sketches[:, :, 7:9, :] = -1.0  # the sketch's line is there
    flat = flat_colors(colors, sketches)
    assert torch.allclose(flat[:, :, 7:9, :], colors[:, :, 0:1, :].expand(-1, -1, 2, -1), atol=1e-5)
    assert torch.allclose(flat[:, :, :5], colors[:, :, :5], atol=1e-6)  # flat paint away from lines stays


def test_smoothing_evens_out_noise_but_never_crosses_a_line():
    generator = torch.Generator().manual_seed(0)
    size = 24
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    paint = (rows != cols).float()[None, None]  # a one-pixel diagonal line, 8-connected
    above = (cols > rows)[None, None]
    colors = torch.where(above, 0.6, -0.6).expand(1, 3, size, size)
    noisy = colors + 0.2 * torch.randn(1, 3, size, size, generator=generator)
    smoothed = smooth_within_lines(noisy, paint, steps=400)
    for side in (above, ~above & paint.bool()):
        before, after = noisy[side.expand_as(noisy)], smoothed[side.expand_as(smoothed)]
        assert after.std() < before.std() / 5  # the noise evens out inside each side ...
        assert (after - before.mean()).abs().max() < 0.05  # ... to that side's own color
    on_line = ~paint.bool().expand_as(noisy)
    assert torch.equal(smoothed[on_line], noisy[on_line])  # ink pixels are left to the fill
    batch = smooth_within_lines(torch.cat([noisy, -noisy]), torch.cat([paint, paint]), steps=400)
    assert torch.allclose(batch[1:], -smoothed, atol=1e-6)  # pages of a batch do not mix


def test_dark_fills_without_lines_stay_dark():
    colors = torch.full((1, 3, 8, 8), -0.9)  # black hair, say
    assert torch.allclose(flat_colors(colors, torch.ones(1, 1, 8, 8)), colors, atol=1e-6)


def test_multiply_keeps_paper_transparent_and_ink_dark():
    flat = Image.new("RGB", (4, 1), (200, 100, 50))
    sketch = Image.fromarray(np.array([[255, 0, 128, 255]], dtype=np.uint8))
    out = np.asarray(lay_lines_over(flat, sketch))
    assert tuple(out[0, 0]) == (200, 100, 50) and tuple(out[0, 1]) == (0, 0, 0)
    assert tuple(out[0, 2]) == (100, 50, 25)


def test_lines_kept_detects_a_lightened_line_and_a_wrong_size():
    from PIL import Image

    from sketchcolor.compose import lines_intact

    sketch = Image.new("L", (20, 10), 255)
    sketch.putpixel((5, 5), 30)
    colored = lay_lines_over(Image.new("RGB", (20, 10), (200, 120, 40)), sketch)
    assert lines_intact(sketch, colored)
    colored.putpixel((5, 5), (31, 0, 0))  # one channel lighter than the ink
    assert not lines_intact(sketch, colored)
    assert not lines_intact(sketch, Image.new("RGB", (10, 20), "black"))


def test_a_painted_layer_is_rendered_under_the_sketch():
    sketches = torch.tensor([[[[1.0, -1.0, 0.0]]]])  # paper, ink, mid-gray
    painted = torch.tensor([[[[1.0, 1.0, 1.0]], [[0.0, 0.0, 0.0]], [[-1.0, -1.0, -1.0]]]])  # white | gray | black
    page = render(painted, sketches, "flat")
    assert torch.allclose(page[0, :, 0, 0], painted[0, :, 0, 0])  # paper shows the layer
    assert torch.allclose(page[0, :, 0, 1], torch.full((3,), -1.0))  # ink stays black
    assert torch.allclose(page[0, 0, 0, 2], torch.tensor(0.0))  # half-dark over white: mid-gray
    assert render(painted, sketches, "image") is painted
