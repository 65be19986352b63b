"""Draw the README's two pictures of the web page: docs/images/web-app.png, the whole page
after colorizing the example sketch, and docs/images/web-hints.png, its painting area after
color hints are painted on it.

Starts `sketchcolor serve` on a free loopback port, opens the page in Debian's chromium
(driven by Playwright, which downloads nothing), loads the hamster sketch, takes the first
screenshot, paints a few hints of different colors with the mouse, waits for the colored
result and takes the second.

    python docs/make_web_screenshot.py [--app-out docs/images/web-app.png] [--out docs/images/web-hints.png] [--model DIR]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import sketchcolor
from sketchcolor.serve.launch import free_port, wait_until_serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SKETCH = Path(sketchcolor.__file__).parent / "examples" / "sketch.png"
VIEWPORT = {"width": 1200, "height": 700}
# (color, brush in % of the sketch's side, points in the 512 px sketch's pixels): one point is a
# dot, more are a stroke. The hamster's forehead, ears and face; all well above the gaps its
# head's outline has by the whiskers, through which a hint's color would flow out of the head.
HINTS = [
    ("#e02020", 4, [(215, 150), (256, 140), (300, 150)]),
    ("#3050c0", 4, [(145, 120)]),
    ("#3050c0", 4, [(370, 120)]),
    ("#f0c020", 4, [(256, 240)]),
]


@contextmanager
def running_server(model: str | None):
    """`sketchcolor serve` (the bundled model unless `model`) until the block ends; yields its URL."""
    port = free_port()
    command = [sys.executable, "-m", "sketchcolor", "serve", "--port", str(port)]
    if model:
        command += ["--model", model]
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            if not wait_until_serving(base, process):
                log.seek(0)
                sys.exit(f"the server did not start:\n{log.read()}")
            yield base
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=30)


def on_canvas(page, x: float, y: float) -> tuple[float, float]:
    """The screen position of the sketch's pixel (x, y) on the page's canvas."""
    box = page.locator("#canvas").bounding_box()
    side = 512  # the example sketch's size
    return box["x"] + x / side * box["width"], box["y"] + y / side * box["height"]


def paint(page, color: str, brush: float, points: list[tuple[float, float]]) -> None:
    page.fill("#color", color)
    page.locator("#brush").evaluate("(range, value) => { range.value = value; "
                                    "range.dispatchEvent(new Event('input', {bubbles: true})); }", str(brush))
    page.mouse.move(*on_canvas(page, *points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*on_canvas(page, *point), steps=8)
    page.mouse.up()


def painting_area(page) -> dict:
    """The page from the hint tools to the bottom of the sketch and result (about 1200x700);
    the header, drop zone and options above are in web-app.png."""
    top = page.locator("#hint-tools").bounding_box()["y"] - 16
    pair = page.locator(".pair").bounding_box()
    return {"x": 0, "y": top, "width": VIEWPORT["width"], "height": pair["y"] + pair["height"] + 16 - top}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "images" / "web-hints.png")
    parser.add_argument("--app-out", type=Path, default=Path(__file__).parent / "images" / "web-app.png")
    parser.add_argument("--model", default=None, help="model directory (default: the bundled model)")
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    with running_server(args.model) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        expect.set_options(timeout=60_000)
        page.goto(base + "/")
        expect(page.locator("#about")).to_contain_text("model ")
        if not page.evaluate("fetch('/api/models').then(r => r.json()).then(m => m.models[0].hints)"):
            sys.exit("the served model takes no hints; pass --model with a hint-capable model")
        page.set_input_files("#file", str(SKETCH))
        expect(page.locator("body")).to_have_attribute("data-state", "done")
        args.app_out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.app_out), full_page=True)
        for color, brush, points in HINTS:
            paint(page, color, brush, points)
        expect(page.locator("body")).to_have_attribute("data-state", "done")
        expect(page.locator("#status")).to_contain_text(f"{len(HINTS)} hints")
        page.mouse.move(0, 0)  # no brush outline on the canvas
        page.locator("#canvas").blur()  # nor the focus the clicks left on it
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), clip=painting_area(page), full_page=True)
        browser.close()
    print(f"wrote {args.app_out} and {args.out}")


if __name__ == "__main__":
    main()
