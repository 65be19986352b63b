import numpy as np
import pytest
from PIL import Image

from sketchcolor import imageio
from sketchcolor.imageio import ImageReadError, read_image, split_pair, to_pil, to_tensor


def test_rgba_is_composited_on_white(tmp_path):
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    image.putpixel((0, 0), (0, 0, 255, 255))
    image.save(tmp_path / "a.png")
    rgb = read_image(tmp_path / "a.png")
    assert rgb.mode == "RGB"
    assert rgb.getpixel((1, 1)) == (255, 255, 255)
    assert rgb.getpixel((0, 0)) == (0, 0, 255)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "LA", "1"])
def test_modes_become_rgb(tmp_path, mode):
    suffix = ".tif" if mode == "CMYK" else ".png"
    Image.new("RGB", (5, 3), (10, 200, 30)).convert(mode).save(tmp_path / f"x{suffix}")
    image = read_image(tmp_path / f"x{suffix}")
    assert image.mode == "RGB" and image.size == (5, 3)


def test_16_bit_grayscale_is_scaled(tmp_path):
    array = np.full((3, 3), 65535, dtype=np.uint16)
    array[0, 0] = 0
    Image.fromarray(array).save(tmp_path / "deep.png")
    image = read_image(tmp_path / "deep.png")
    assert image.getpixel((1, 1)) == (255, 255, 255) and image.getpixel((0, 0)) == (0, 0, 0)


def test_bad_files_raise_one_clear_error(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_bytes(b"not an image at all")
    Image.new("RGB", (64, 64), "red").save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    for name in ("empty.png", "text.png", "cut.png", "missing.png"):
        with pytest.raises(ImageReadError, match=name):
            read_image(tmp_path / name)


def test_decompression_bombs_are_refused_before_decoding(tmp_path):
    Image.new("L", (300, 300)).save(tmp_path / "big.png")
    with pytest.raises(ImageReadError, match="pixel"):
        read_image(tmp_path / "big.png", max_pixels=200 * 200)


def test_tensor_round_trip_and_range():
    image = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    tensor = to_tensor(image, 3)
    assert tensor.shape == (3, 4, 4) and tensor.min() >= -1 and tensor.max() <= 1
    assert np.array_equal(np.asarray(to_pil(tensor)), np.asarray(image))
    assert to_tensor(image, 1).shape == (1, 4, 4)


@pytest.mark.parametrize("side", ["left", "right"])
def test_split_pair_finds_the_sketch_by_saturation(side):
    sketch = Image.new("RGB", (8, 8), "white")
    color = Image.new("RGB", (8, 8), (200, 30, 30))
    pair = Image.new("RGB", (16, 8))
    pair.paste(sketch if side == "left" else color, (0, 0))
    pair.paste(color if side == "left" else sketch, (8, 0))
    found_sketch, found_color = split_pair(pair)
    assert imageio.mean_saturation(found_sketch) < 0.01 < imageio.mean_saturation(found_color)
    forced_sketch, _ = split_pair(pair, "left")
    assert forced_sketch.tobytes() == pair.crop((0, 0, 8, 8)).tobytes()
