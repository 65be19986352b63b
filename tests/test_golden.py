"""Golden slices (as diffusers' pipeline tests keep them): a few output values of the bundled
model on the bundled example sketch, with and without color hints, fp32 eager on the CPU. A change that silently alters what
users get (weights, fitting, the network, composition) fails here; a deliberate one updates
the numbers in the same commit and says why."""

from pathlib import Path

import numpy as np
import pytest
import torch

import sketchcolor
from sketchcolor import Colorizer
from sketchcolor.imageio import read_image, to_gray
from sketchcolor.page import fit_region

EXAMPLE = Path(sketchcolor.__file__).parent / "examples" / "sketch.png"  # installed with the package
# The network's page (lines "model") for the example fitted to 128 px: channels x rows 40, 42
# x columns 60, 62, 64, in [-1, 1].
NETWORK_SLICE = [0.868788, 0.878323, 0.870598, 0.905035, 0.90925, 0.899779,
                 0.551068, 0.561001, 0.561426, 0.569833, 0.567572, 0.560608,
                 -0.442312, -0.442937, -0.427423, -0.439883, -0.449024, -0.436739]
# The page `colorize` writes (512 x 512, lines kept, smoothed): (row, column) -> RGB.
PAGE_PIXELS = {(100, 100): (0, 0, 0), (256, 256): (248, 211, 39), (300, 150): (234, 187, 55),
               (400, 380): (0, 0, 0), (200, 330): (251, 234, 128)}
# The same page with a red dot on the forehead and a blue stroke in the left ear: the hinted
# pixels, and the face around them that the hints' fills reach. The left cheek is the face's,
# so red: the face claims it before the ear's blue runs in through the gap between them.
HINTS = {"units": "pixels", "points": [{"x": 256, "y": 150, "color": "#e02020", "radius": 12}],
         "strokes": [{"points": [[140, 110], [150, 130]], "color": "#2040e0", "width": 8}]}
HINTED_PIXELS = {(150, 256): (224, 32, 32), (200, 330): (224, 32, 32), (120, 150): (33, 64, 223),
                 (300, 150): (221, 33, 35)}


@pytest.fixture(scope="module")
def bundled():
    return Colorizer.from_pretrained(None, device="cpu", backend="torch", precision="fp32")


def test_the_bundled_network_paints_the_example_as_it_did(bundled):
    page = to_gray(read_image(EXAMPLE))
    painted = bundled.paint(fit_region(page, bundled.size).sketch[None], lines="model")[0]
    got = painted[:, 40:44:2, 60:66:2].flatten()
    assert torch.allclose(got, torch.tensor(NETWORK_SLICE), atol=1e-3), got.tolist()


def test_the_bundled_page_is_composed_as_it_was(bundled):
    page = np.asarray(bundled(read_image(EXAMPLE)), dtype=np.int32)
    assert page.shape == (512, 512, 3)
    for (row, column), rgb in PAGE_PIXELS.items():
        assert np.abs(page[row, column] - rgb).max() <= 1, (row, column, page[row, column].tolist())


def test_the_bundled_page_follows_hints_as_it_did(bundled):
    page = np.asarray(bundled(read_image(EXAMPLE), hints=HINTS), dtype=np.int32)
    for (row, column), rgb in HINTED_PIXELS.items():
        assert np.abs(page[row, column] - rgb).max() <= 1, (row, column, page[row, column].tolist())
