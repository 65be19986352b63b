"""The web service: `create_app(settings)` builds a FastAPI app serving the page at /, the
colorize API under /api, the user study at /study and OpenAPI docs at /docs;
`run_server` runs it with uvicorn.

The model runs on a bounded worker pool (pool.py); uploads are limited while they stream
in, then decoded by `imageio.decode_image` under the same rules as files on disk.
"""

from __future__ import annotations

import io
import logging
import tempfile
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import __version__
from ..checkpoint import load_model, model_label, resolve_model_dir
from ..compose import LINE_MODES
from ..device import resolve_device
from ..errors import SketchcolorError
from ..hints import Hints, hint_layer, parse_hints
from ..imageio import ImageReadError, ImageTooLargeError, decode_image, read_layer
from ..inference import Colorizer
from .pages import STATIC, page
from .pool import QueueFull, WorkerPool
from .settings import MB, Settings
from .study_api import add_study

log = logging.getLogger("sketchcolor")
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small option fields around the file
HINTS_FIELD = ('color hints as JSON: {"units": "pixels" or "relative", "points": [{"x", "y", "color": "#rrggbb", '
               '"radius"}], "strokes": [{"points": [[x, y], ...], "color", "width"}]} (the hint-file format)')


class Service:
    """The loaded model and the pool that runs it."""

    def __init__(self, settings: Settings):
        model_dir = resolve_model_dir(settings.model)
        device = resolve_device(settings.device)
        generator, config, info = load_model(model_dir, device=device)
        # One colorizer for every request: lines and working size are options of each call.
        self.colorizer = Colorizer(generator, config, device=device, precision="auto")  # bf16 where native
        self.name = model_label(model_dir)
        self.info = info
        self.settings = settings
        self.size_multiple = self.colorizer.size_multiple
        self.pool = WorkerPool(settings.workers, settings.queue_size)

    def describe(self) -> dict:
        return {"name": self.name, "generator": self.colorizer.config.generator.name,
                "working_size": self.colorizer.size, "size_multiple": self.size_multiple,
                "max_working_size": self.settings.max_working_size, "lines": list(LINE_MODES),
                "max_upload_bytes": self.settings.max_upload_bytes, "max_pixels": self.settings.max_pixels,
                "hints": self.colorizer.takes_hints, "info": self.info}

    def check_size(self, size: int | None) -> int:
        if size is None:
            return self.colorizer.size
        limit, step = self.settings.max_working_size, self.size_multiple
        if not step <= size <= limit or size % step:
            raise HTTPException(422, f"size must be a multiple of {step} from {step} to {limit}, not {size}")
        return size

    def read_hints(self, text: str | None, layer: bytes | None) -> Hints | None:
        """The request's hints (a JSON field, or a hint-layer image), or an HTTP 422 saying what is wrong."""
        if text is None and layer is None:
            return None
        if not self.colorizer.takes_hints:
            raise HTTPException(422, f"the model {self.name} was trained without color hints; send none")
        if text is not None and layer is not None:
            raise HTTPException(422, "send hints as JSON or as a hint layer, not both")
        try:
            if text is not None:
                return parse_hints(text, source="hints")
            return hint_layer(read_layer(layer, "hint_layer", self.settings.max_pixels))
        except SketchcolorError as err:  # unreadable JSON or layer image, bad colors, ...
            raise HTTPException(422, str(err)) from None

    def colorize_png(self, data: bytes, name: str, lines: str, size: int, hints: Hints | None = None) -> bytes:
        """Runs on a pool thread: decode, colorize, encode."""
        sketch = decode_image(data, name, self.settings.max_pixels)
        if hints:
            hints.check(sketch.size)
        buffer = io.BytesIO()
        self.colorizer(sketch, lines=lines, size=size, hints=hints).save(buffer, format="PNG")
        return buffer.getvalue()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Load the model and build the app (raises SketchcolorError for a bad model or study)."""
    settings = settings or Settings()
    service = Service(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        service.pool.close()

    app = FastAPI(title="sketchcolor", version=__version__, lifespan=lifespan,
                  description="Colorize line-art sketches; run a blind user study (the paper's Table 3).")
    app.state.service = service
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes + FORM_OVERHEAD,
                       message=_too_large(settings))
    _add_error_handlers(app)
    app.include_router(_api_routes())
    add_study(app, settings.study_db)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _api_routes() -> APIRouter:
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return page("index.html")

    @router.get("/api/health")
    def health(request: Request) -> dict:
        """Liveness, the model served, the package version and how busy the model is."""
        service: Service = request.app.state.service
        return {"status": "ok", "model": service.name, "version": __version__,
                "in_flight": service.pool.in_flight, "capacity": service.pool.capacity}

    @router.get("/api/models")
    def models(request: Request) -> dict:
        """The model this server runs, its working size and the upload limits."""
        return {"models": [request.app.state.service.describe()]}

    @router.post("/api/colorize", response_class=Response,
                 responses={200: {"content": {"image/png": {}}, "description": "the colored PNG"},
                            413: {"description": "upload or image too large"}, 415: {"description": "not an image"},
                            422: {"description": "bad parameter"}, 503: {"description": "busy; see Retry-After"}})
    async def colorize(
        request: Request,
        file: Annotated[UploadFile, File(description="the sketch (PNG, JPEG, WebP, BMP, TIFF)")],
        lines: Annotated[Literal["keep", "model"], Form(description="keep: the sketch's lines over the colors; "
                                                                     "model: the network's output")] = "keep",
        size: Annotated[int | None, Form(description="working size in px (default: the model's)")] = None,
        hints: Annotated[str | None, Form(description=HINTS_FIELD)] = None,
        hint_layer: Annotated[UploadFile | None, File(description="color hints as an RGBA PNG of the sketch's "
                                                                   "size, opaque where there are hints")] = None,
    ) -> Response:
        """Colorize one sketch, following the color hints if any; the result is a PNG at the sketch's size."""
        # `lines` is spelled out (compose.LINE_MODES) so the OpenAPI schema lists its values.
        service: Service = request.app.state.service
        working = service.check_size(size)
        data = await file.read(service.settings.max_upload_bytes + 1)
        if len(data) > service.settings.max_upload_bytes:
            raise HTTPException(413, _too_large(service.settings))
        layer = await hint_layer.read(service.settings.max_upload_bytes + 1) if hint_layer is not None else None
        page_hints = service.read_hints(hints, layer)
        try:
            png = await service.pool.run(service.colorize_png, data, file.filename or "upload", lines, working,
                                         page_hints)
        except QueueFull:
            raise HTTPException(503, "the colorizer is busy; try again shortly",
                                headers={"Retry-After": str(service.settings.retry_after_s)}) from None
        except ImageTooLargeError as err:
            raise HTTPException(413, str(err)) from None
        except ImageReadError as err:
            raise HTTPException(415, str(err)) from None
        except SketchcolorError as err:  # hints that do not fit the page
            raise HTTPException(422, str(err)) from None
        return Response(png, media_type="image/png")

    return router


def _add_error_handlers(app: FastAPI) -> None:
    """Every error is JSON: {"error": a sentence for people, "status": the code}."""

    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail), "status": exc.status_code}, exc.status_code,
                            headers=getattr(exc, "headers", None))

    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(part) for part in e['loc'][1:]) or 'request'}: {e['msg']}" for e in exc.errors()]
        body = {"error": "invalid request: " + "; ".join(problems), "status": 422,
                "detail": jsonable_encoder(exc.errors(), exclude={"ctx", "input", "url"})}
        return JSONResponse(body, 422)

    async def crashed(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed", exc_info=exc)
        return JSONResponse({"error": "internal error; see the server log", "status": 500}, 500)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, crashed)


def _too_large(settings: Settings) -> str:
    return f"upload larger than the {settings.max_upload_bytes / MB:.3g} MB limit"


class BodyLimit:
    """Answer 413 to a request body over `max_bytes` while it streams in (or at once from
    its Content-Length), so an oversized upload is never held or spooled whole."""

    def __init__(self, app: ASGIApp, max_bytes: int, message: str):
        self.app = app
        self.max_bytes = max_bytes
        self.message = message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            body = {"error": self.message, "status": 413}
            return await JSONResponse(body, 413, headers={"Connection": "close"})(scope, receive, send)
        received = 0

        async def limited() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, self.message)  # FastAPI re-raises it from body parsing
            return message

        await self.app(scope, limited, send)


def run_server(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until Ctrl-C. Large uploads spill to temporary files (Starlette spools parts
    over 1 MB); they go to a private directory that is removed when the server stops."""
    import uvicorn

    app = create_app(settings)
    with tempfile.TemporaryDirectory(prefix="sketchcolor-serve-") as spool:
        tempfile.tempdir = spool
        try:
            uvicorn.run(app, host=host, port=port, limit_concurrency=settings.max_connections,
                        log_level="info")
        finally:
            tempfile.tempdir = None
