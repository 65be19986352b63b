"""Draw docs/images/tone-example.png: OpenMoji test-split outlines brought in screen-toned
(`evaluate --sketch-style tone`, seeded per emoji as evaluation seeds it), colorized by the
bundled model with the page's levels as they are (`--no-clean`) and cleaned (the default).

Per row: the toned outline | colorized, not cleaned | the cleaned sketch the network sees |
colorized, cleaned | OpenMoji's colors.

    python docs/make_tone_figure.py --package openmoji-17.0.0.tgz   # from `npm pack openmoji`
"""

from __future__ import annotations

from PIL import Image

from make_hints_figure import draw_rows, figure_arguments  # docs/ is on the path when run
from sketchcolor import Colorizer
from sketchcolor.data.restyle import restyle
from sketchcolor.data.sketchify import file_seed
from sketchcolor.page import page_gray


def tone_row(colorizer: Colorizer, code: str, sketch: Image.Image, real: Image.Image) -> tuple:
    toned = restyle(sketch, "tone", file_seed(f"{code}.png"), real)
    return toned, colorizer(toned, clean=False), page_gray(toned, clean=True), colorizer(toned), real


def main() -> None:
    draw_rows(figure_arguments(__doc__, "tone-example.png"), tone_row)


if __name__ == "__main__":
    main()
