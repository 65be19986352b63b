"""End to end in a real headless browser: `sketchcolor serve` on a loopback port, Debian's
chromium driven by Playwright. Upload a sketch, get a colored PNG, complete a study session
and find its ratings in the report; paint a color hint and see the colors follow it."""

import json
import os
import signal
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import sketchcolor
from sketchcolor.checkpoint import save_model
from sketchcolor.hints import parse_hints
from sketchcolor.imageio import mean_saturation
from sketchcolor.models import build_generator
from sketchcolor.serve.launch import free_port, wait_until_serving
from sketchcolor.serve.study import CRITERIA, build_study, study_results

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SKETCH = Path(sketchcolor.__file__).parent / "examples" / "sketch.png"
SCORES = dict(zip(CRITERIA, (4, 2, 5)))
# The hint test serves the bundled model; SKETCHCOLOR_HINT_MODEL names another (a model
# directory) to test with, such as a hint-capable one still in training.
HINT_MODEL = os.environ.get("SKETCHCOLOR_HINT_MODEL")
RED = "#e02020"
FOREHEAD = (256, 150)  # between the ears, well inside the hamster's head (its outline has gaps lower down)
NEAR = 20  # px around the hint whose colors are measured

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")


@contextmanager
def running_server(tmp_path: Path, *args: str):
    """`sketchcolor serve *args` on a free loopback port until the block ends; yields its base
    URL, the process and the directory it spools uploads to."""
    port, spool = free_port(), tmp_path / "tmp"
    spool.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(spool)}
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "sketchcolor", "serve", "--port", str(port),
                                "--backend", "torch", *args],
                               stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_serving(base, process, timeout=90), (tmp_path / "server.log").read_text()
        yield base, process, spool
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        log.close()


@pytest.fixture
def server(tmp_path, tiny_config):
    """`sketchcolor serve` with a tiny random model and a 2-sketch x 2-method study."""
    models = []
    for seed in range(2):
        torch.manual_seed(seed)
        models.append(save_model(tmp_path / f"model{seed}", build_generator(tiny_config.generator), tiny_config))
    sketches = tmp_path / "sketches"
    sketches.mkdir()
    for index in range(3):
        Image.open(SKETCH).resize((96 + 32 * index, 96)).save(sketches / f"{index}.png")
    db = tmp_path / "study.sqlite"
    build_study(db, sketches, {"ours": str(models[0]), "baseline": str(models[1])}, n=2, device="cpu")
    with running_server(tmp_path, "--model", str(models[0]), "--study", str(db)) as (base, process, spool):
        yield {"base": base, "db": db, "spool": spool, "process": process}


@pytest.fixture
def hint_server(tmp_path):
    """`sketchcolor serve` with the bundled model (or $SKETCHCOLOR_HINT_MODEL); skips the test
    when that model was trained without color hints."""
    with running_server(tmp_path, *(["--model", HINT_MODEL] if HINT_MODEL else [])) as (base, _process, _spool):
        served = json.load(urllib.request.urlopen(f"{base}/api/models", timeout=10))["models"][0]
        if not served["hints"]:
            pytest.skip(f"the served model ({served['name']}) takes no color hints; set SKETCHCOLOR_HINT_MODEL "
                        "to a hint-capable model directory to run this test")
        yield base


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            accept_downloads=True)
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(60_000)
        from playwright.sync_api import expect

        expect.set_options(timeout=60_000)
        yield page
        context.close()


def rate_current_sketch(page) -> None:
    cards = page.locator("fieldset.candidate")
    assert cards.count() == 2
    for index in range(cards.count()):
        for criterion, score in SCORES.items():
            cards.nth(index).locator(f'.scale[data-criterion="{criterion}"] input[value="{score}"]').check()
    assert page.locator("#next").is_enabled()
    cards.nth(0).locator('input[name="most-natural"]').check()
    page.click("#next")


def test_colorize_and_a_study_session_in_a_real_browser(server, page, tmp_path):
    from playwright.sync_api import expect

    base, problems, requests = server["base"], [], []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("request", lambda request: requests.append(request.url))

    page.goto(base + "/")
    expect(page.locator("#about")).to_contain_text("model model0")
    page.set_input_files("#file", str(SKETCH))
    expect(page.locator("body")).to_have_attribute("data-state", "done")
    assert page.locator("#result").evaluate("img => img.naturalWidth") == Image.open(SKETCH).width
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "sketch-colored.png"
    colored = Image.open(download.value.path())
    assert colored.size == Image.open(SKETCH).size and mean_saturation(colored) > 0.05

    (tmp_path / "notes.png").write_text("these are notes, not a drawing")
    page.set_input_files("#file", str(tmp_path / "notes.png"))
    expect(page.locator("body")).to_have_attribute("data-state", "error")
    expect(page.locator("#status")).to_contain_text("not an image")

    page.goto(base + "/study")
    page.click("#start")
    expect(page.locator("#counter")).to_have_text("Sketch 1 of 2")
    rate_current_sketch(page)
    expect(page.locator("#counter")).to_have_text("Sketch 2 of 2")
    page.reload()  # a closed or reloaded tab resumes where it was
    page.click("#start")
    expect(page.locator("#counter")).to_have_text("Sketch 2 of 2")
    rate_current_sketch(page)
    expect(page.locator("#finished")).to_be_visible()

    assert not problems
    assert all(url.startswith((base, "blob:", "data:")) for url in requests), requests  # nothing from elsewhere
    results, summary = study_results(server["db"])
    assert summary["participants"] == 1 and summary["answers"] == 2
    for result in results:
        assert {c: (e.n, e.mean) for c, e in result.criteria.items()} == {c: (2, s) for c, s in SCORES.items()}
    assert sum(r.picks for r in results) == 2

    assert list(server["spool"].glob("sketchcolor-serve-*"))  # uploads would spool here ...
    server["process"].send_signal(signal.SIGINT)
    assert server["process"].wait(timeout=30) == 0
    assert not list(server["spool"].glob("sketchcolor-serve-*"))  # ... and it is gone after


def on_canvas(page, x: float, y: float) -> tuple[float, float]:
    """The screen position of the example sketch's pixel (x, y) on the page's hint canvas."""
    box = page.locator("#canvas").bounding_box()
    width, height = Image.open(SKETCH).size
    return box["x"] + x / width * box["width"], box["y"] + y / height * box["height"]


def wait_for_result(page, hints: int) -> Image.Image:
    """Wait until the result made with `hints` hints is shown; its PNG, as the server sent it."""
    from playwright.sync_api import expect

    expect(page.locator("body")).to_have_attribute("data-state", "done")
    expect(page.locator("#status")).to_contain_text(f" {hints} hint{'' if hints == 1 else 's'}.")
    with page.expect_download() as download:
        page.click("#download")
    return Image.open(download.value.path()).convert("RGB")


def hue_near(image: Image.Image, center: tuple[int, int], reach: int = NEAR) -> tuple[float, float]:
    """Mean hue (degrees from red, signed) and mean HSV saturation (0-1) of the pixels within
    `reach` px of `center` that are paper, not line, in the sketch."""
    paper = np.asarray(Image.open(SKETCH).convert("L")) > 200
    ys, xs = np.mgrid[: paper.shape[0], : paper.shape[1]]
    near = ((xs - center[0]) ** 2 + (ys - center[1]) ** 2 <= reach**2) & paper
    hsv = np.asarray(image.convert("HSV"), dtype=np.float64)[near] / 255
    angle = hsv[:, 0] * 2 * np.pi  # a circular mean: hues of 350 and 10 degrees average to red, not cyan
    hue = np.degrees(np.arctan2(np.sin(angle).mean(), np.cos(angle).mean()))
    return float(hue), float(hsv[:, 1].mean())


def is_red(hue: float, saturation: float) -> bool:
    return abs(hue) <= 30 and saturation > 0.25


def test_a_color_hint_turns_the_colors_in_a_real_browser(hint_server, page, tmp_path):
    from playwright.sync_api import expect

    problems = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.goto(hint_server + "/")
    expect(page.locator("#about")).to_contain_text("model ")  # the page knows the model takes hints
    page.set_input_files("#file", str(SKETCH))
    unhinted = wait_for_result(page, 0)
    expect(page.locator("#hint-tools")).to_be_enabled()

    page.fill("#color", RED)
    for _ in range(12):  # the ] shortcut: 2% -> 8% of the sketch's side, a generous brush
        page.keyboard.press("]")
    expect(page.locator("#brush-size")).to_have_text("8%")
    page.mouse.click(*on_canvas(page, *FOREHEAD))
    pixel = ("([x, y]) => { const c = document.querySelector('#canvas');"
             " return Array.from(c.getContext('2d').getImageData(x * c.width, y * c.height, 1, 1).data); }")
    where = [FOREHEAD[0] / 512, FOREHEAD[1] / 512]
    # the page paints the dot on its next frame: wait for it (an immediate read raced it)
    page.wait_for_function(f"args => ({pixel})(args)[1] != 255", arg=where, timeout=5000)
    painted = page.evaluate(pixel, where)
    assert painted[:3] == [0xE0, 0x20, 0x20]  # the dot is on the canvas
    hinted = wait_for_result(page, 1)
    assert page.locator("#recent .swatch").first.get_attribute("title") == RED

    with page.expect_download() as saved:  # the hints as a hint file, which the Python side reads
        page.click("#save-hints")
    hint_file = json.loads(Path(saved.value.path()).read_text())
    assert hint_file["units"] == "relative" and not hint_file["strokes"]
    (dot,) = hint_file["points"]
    assert dot["color"] == RED and dot["radius"] == pytest.approx(0.04)
    assert (dot["x"], dot["y"]) == pytest.approx((FOREHEAD[0] / 512, FOREHEAD[1] / 512), abs=0.01)
    assert len(parse_hints(json.dumps(hint_file)).marks) == 1

    page.keyboard.press("Control+z")
    undone = wait_for_result(page, 0)

    measured = {name: hue_near(image, FOREHEAD) for name, image in
                (("before", unhinted), ("hinted", hinted), ("undone", undone))}
    print("hue (degrees from red), saturation near the hint:", measured)
    assert is_red(*measured["hinted"]), measured
    assert not is_red(*measured["before"]) and not is_red(*measured["undone"]), measured

    hint_path = tmp_path / "hints.json"  # loading it brings the hint back; the eraser takes it away
    hint_path.write_text(json.dumps(hint_file))
    page.set_input_files("#load-hints", str(hint_path))
    assert is_red(*hue_near(wait_for_result(page, 1), FOREHEAD))
    page.check("#close-gaps")  # "Close small gaps" goes with the hints, and the hint still holds
    assert page.evaluate("() => requestForm(new File([], 'sketch.png')).get('hint_gap')") == "0.016"
    assert is_red(*hue_near(wait_for_result(page, 1), FOREHEAD))
    assert page.evaluate("() => requestForm(new File([], 'sketch.png')).get('clean')") == "true"  # on by default
    page.uncheck("#clean")  # a scan kept as it is: the form says so, and the hint still holds
    assert page.evaluate("() => requestForm(new File([], 'sketch.png')).get('clean')") == "false"
    assert is_red(*hue_near(wait_for_result(page, 1), FOREHEAD))
    page.keyboard.press("e")
    expect(page.locator("#tool-eraser")).to_have_attribute("aria-pressed", "true")
    page.mouse.click(*on_canvas(page, *FOREHEAD))
    wait_for_result(page, 0)
    assert not problems, problems
