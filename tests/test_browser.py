"""End to end in a real headless browser: `sketchcolor serve` on a loopback port, Debian's
chromium driven by Playwright. Upload a sketch, get a colored PNG, complete a study session
and find its ratings in the report."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from PIL import Image

import sketchcolor
from sketchcolor.checkpoint import save_model
from sketchcolor.imageio import mean_saturation
from sketchcolor.models import build_generator
from sketchcolor.serve.study import CRITERIA, build_study, study_results

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SKETCH = Path(sketchcolor.__file__).parent / "examples" / "sketch.png"
SCORES = dict(zip(CRITERIA, (4, 2, 5)))

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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

    port, spool = free_port(), tmp_path / "tmp"
    spool.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(spool)}
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "sketchcolor", "serve", "--port", str(port),
                                "--model", str(models[0]), "--study", str(db)],
                               stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/health", timeout=2).read()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.3)
        yield {"base": base, "db": db, "spool": spool, "process": process}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        log.close()


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
