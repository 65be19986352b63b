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
NETWORK_SLICE = [0.935133, 0.944684, 0.946209, 0.952622, 0.947438, 0.955839,
                 0.689419, 0.730879, 0.716901, 0.706518, 0.743819, 0.726707,
                 -0.565563, -0.581393, -0.593065, -0.566902, -0.599254, -0.596125]
# The page `colorize` writes (512 x 512, lines kept, smoothed): (row, column) -> RGB.
PAGE_PIXELS = {(100, 100): (0, 0, 0), (256, 256): (252, 235, 49), (300, 150): (245, 213, 59),
               (400, 380): (0, 0, 0), (200, 330): (250, 225, 55)}


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
