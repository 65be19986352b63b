"""Golden slices (as diffusers' pipeline tests keep them): a few output values of the bundled
model on the bundled example sketch, with and without color hints, fp32 eager on the CPU. A change that silently alters what
users get (weights, fitting, the network, composition) fails here; a deliberate one updates
the numbers in the same commit and says why. Last updated for the stage-11 weights
(MODEL_CARD.md, "Stage 11"): a more saturated yellow on the face."""

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
NETWORK_SLICE = [0.892945, 0.912526, 0.901289, 0.916935, 0.920137, 0.917103,
                 0.612546, 0.645475, 0.634641, 0.621343, 0.625853, 0.625447,
                 -0.553816, -0.566139, -0.537137, -0.562255, -0.597299, -0.562481]
# The page `colorize` writes (512 x 512, lines kept, smoothed): (row, column) -> RGB.
PAGE_PIXELS = {(100, 100): (0, 0, 0), (256, 256): (250, 222, 38), (300, 150): (236, 191, 42),
               (400, 380): (0, 0, 0), (200, 330): (249, 220, 46)}
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
