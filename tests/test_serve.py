"""The REST API through the ASGI test client: results, limits, errors and the bounded queue."""

import io
import struct
import threading
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from sketchcolor.imageio import ImageReadError, ImageTooLargeError, decode_image
from sketchcolor.serve import Settings, create_app
from sketchcolor.serve.pool import QueueFull, WorkerPool
from sketchcolor.serve.settings import StudyLimits


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sketch(width: int = 60, height: int = 40) -> bytes:
    page = Image.new("L", (width, height), 255)
    ImageDraw.Draw(page).ellipse([5, 5, width - 5, height - 5], outline=0, width=2)
    return png_bytes(page)


def huge_header_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but holds almost no data: decoding it would
    fail (or take gigabytes); refusing it from the header succeeds at once."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def client_for(model_dir, **limits) -> TestClient:
    return TestClient(create_app(Settings(backend="torch", model=str(model_dir), **limits)))


def post(client, data: bytes, name: str = "sketch.png", **fields):
    return client.post("/api/colorize", files={"file": (name, data, "image/png")}, data=fields)


def test_colorize_returns_a_png_at_the_sketch_size(model_dir):
    with client_for(model_dir) as client:
        reply = post(client, sketch(60, 40))
        assert reply.status_code == 200 and reply.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(reply.content))
        assert image.format == "PNG" and image.mode == "RGB" and image.size == (60, 40)
        kept = np.asarray(image)
        raw = np.asarray(Image.open(io.BytesIO(post(client, sketch(60, 40), lines="model").content)))
        larger = np.asarray(Image.open(io.BytesIO(post(client, sketch(60, 40), size="64").content)))
        assert kept.shape == raw.shape == larger.shape == (40, 60, 3)
        assert not np.array_equal(kept, raw) and not np.array_equal(kept, larger)  # the options are used
        assert (kept[20, 5:7] == 0).all() and (kept[20, 25:35] > 0).any()  # ink stays black, paper is painted


def test_health_and_models_describe_the_served_model(model_dir):
    with client_for(model_dir, workers=2, queue_size=3) as client:
        health = client.get("/api/health").json()
        assert health["status"] == "ok" and health["model"] == "model" and health["capacity"] == 5
        assert health["version"] == __import__("sketchcolor").__version__
        (model,) = client.get("/api/models").json()["models"]
        assert model["working_size"] == 32 and model["size_multiple"] == 32
        assert client.get("/openapi.json").json()["paths"]["/api/colorize"]["post"]
        page = client.get("/")
        assert page.status_code == 200 and "app.js" in page.text and "'self'" in page.headers["content-security-policy"]
        assert client.get("/static/study.js").status_code == 200


def noise_png(side: int) -> bytes:
    return png_bytes(Image.fromarray(np.random.default_rng(side).integers(0, 255, (side, side), dtype=np.uint8)))


def test_oversized_uploads_get_413_with_a_json_error(model_dir):
    with client_for(model_dir, max_upload_bytes=4096) as client:
        over_file = noise_png(80)  # ~6 KB: within the multipart allowance, over the file limit
        over_body = noise_png(400)  # ~160 KB: refused from its Content-Length, unread
        assert 4096 < len(over_file) < 64 * 1024 < len(over_body)
        for data in (over_file, over_body):
            reply = post(client, data)
            assert reply.status_code == 413 and "larger than the 0.00391 MB limit" in reply.json()["error"]
        # A body without Content-Length (chunked) is cut off while it streams in.
        streamed = client.post("/api/colorize", content=iter([b"x" * 50_000] * 4),
                               headers={"content-type": "multipart/form-data; boundary=zzz"})
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413 and streamed.json()["status"] == 413
        assert post(client, sketch()).status_code == 200  # small ones still pass


def test_too_many_pixels_get_413_before_decoding(model_dir):
    with pytest.raises(ImageTooLargeError, match="pixel"):
        decode_image(huge_header_png(100_000, 100_000), max_pixels=10_000)
    with client_for(model_dir, max_pixels=50 * 50) as client:
        reply = post(client, huge_header_png(60_000, 60_000))
        assert reply.status_code == 413 and "pixel" in reply.json()["error"]
        assert post(client, sketch(60, 50)).status_code == 413
        assert post(client, sketch(50, 50)).status_code == 200


def test_non_images_get_415(model_dir):
    with pytest.raises(ImageReadError, match="notes.txt: not an image"):
        decode_image(b"hello", "notes.txt")
    full = sketch()
    with client_for(model_dir) as client:
        for data in (b"hello, not an image", b"", full[: len(full) // 2]):
            reply = post(client, data, name="drawing.png")
            assert reply.status_code == 415, data[:20]
            assert "drawing.png" in reply.json()["error"]


@pytest.mark.parametrize("fields", [{"lines": "thick"}, {"size": "33"}, {"size": "1024"}, {"size": "big"}])
def test_bad_parameters_get_422(model_dir, fields):
    with client_for(model_dir, max_working_size=256) as client:
        reply = post(client, sketch(), **fields)
        assert reply.status_code == 422
        assert reply.json()["status"] == 422 and reply.json()["error"]
        missing = client.post("/api/colorize", data={"lines": "keep"})
        assert missing.status_code == 422 and "file" in missing.json()["error"]


def test_a_full_queue_answers_503_with_retry_after(model_dir):
    app = create_app(Settings(backend="torch", model=str(model_dir), workers=1, queue_size=1, retry_after_s=7))
    pool, release = app.state.service.pool, threading.Event()
    with TestClient(app) as client:
        blockers = [pool.submit(release.wait, 10) for _ in range(2)]  # one running, one waiting
        try:
            reply = post(client, sketch())
            assert reply.status_code == 503 and reply.headers["retry-after"] == "7"
            assert "busy" in reply.json()["error"]
            assert client.get("/api/health").json()["in_flight"] == 2
        finally:
            release.set()
        for blocker in blockers:
            blocker.result(timeout=10)
        assert post(client, sketch()).status_code == 200


def test_the_pool_refuses_work_beyond_its_capacity():
    pool, release = WorkerPool(workers=1, queue_size=2), threading.Event()
    try:
        jobs = [pool.submit(release.wait) for _ in range(3)]
        assert pool.in_flight == 3
        with pytest.raises(QueueFull):
            pool.submit(release.wait)
        release.set()
        assert all(job.result(timeout=10) for job in jobs)
        for _ in range(50):  # the slot comes back in the done callback, right after the result
            if pool.in_flight == 0:
                break
            threading.Event().wait(0.01)
        assert pool.in_flight == 0
        assert pool.submit(lambda: 42).result(timeout=10) == 42
    finally:
        release.set()
        pool.close()


def test_bad_settings_and_models_are_one_line_errors(tmp_path, capsys):
    from sketchcolor.cli import main
    from sketchcolor.errors import SketchcolorError

    with pytest.raises(SketchcolorError, match="workers must be at least 1"):
        Settings(workers=0)
    with pytest.raises(SketchcolorError, match="header_timeout_s must be more than 0 seconds, not 0"):
        Settings(header_timeout_s=0)
    with pytest.raises(SketchcolorError, match="study limit participants_total must be at least 1"):
        StudyLimits(participants_total=0)
    assert Settings(queue_size=0, shutdown_timeout_s=0).queue_size == 0
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--model", str(tmp_path / "nope")])
    assert exit_.value.code == 1 and capsys.readouterr().err.strip() == f"error: model {tmp_path / 'nope'} does not exist"
