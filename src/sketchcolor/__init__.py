"""sketchcolor: colorize line-art sketches with a residual, Mish, gradient-penalty pix2pix GAN."""

__version__ = "0.1.0"

from .config import Config, load_config  # noqa: E402
from .errors import SketchcolorError  # noqa: E402
from .inference import Colorizer  # noqa: E402

__all__ = ["Colorizer", "Config", "SketchcolorError", "load_config", "__version__"]
