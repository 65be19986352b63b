"""Golden slices (as diffusers' pipeline tests keep them): a few output values of the bundled
model on the bundled example sketch, fp32 eager on the CPU. A change that silently alters what
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
NETWORK_SLICE = [0.672888, 0.668311, 0.671038, 0.680606, 0.696637, 0.669611,
                 0.424022, 0.395192, 0.409082, 0.408170, 0.417057, 0.380838,
                 0.075234, 0.030514, 0.021746, 0.062385, -0.013639, 0.003062]
# The page `colorize` writes (512 x 512, lines kept, smoothed): (row, column) -> RGB.
PAGE_PIXELS = {(100, 100): (0, 0, 0), (256, 256): (238, 202, 69), (300, 150): (236, 199, 85),
               (400, 380): (0, 0, 0), (200, 330): (232, 197, 104)}


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
