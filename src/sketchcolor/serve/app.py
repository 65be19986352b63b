"""The web service: `create_app(settings)` builds a FastAPI app serving the page at /, the
colorize API under /api, the user study at /study and OpenAPI docs at /docs;
`run_server` runs it with uvicorn.

The model runs on a bounded worker pool (pool.py); requests are limited while they stream
in, and slow clients cut off (guards.py); uploads are decoded by `imageio.decode_image` under
the same rules as files on disk.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import tempfile
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Iterator, Literal

from fastapi import APIRouter, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..backend_choice import SERVER_IMAGES
from ..checkpoint import model_info, model_label, resolve_model_dir
from ..compose import LINE_MODES
from ..errors import SketchcolorError
from ..hints import Hints, hint_layer, parse_hints
from ..imageio import ImageReadError, ImageTooLargeError, decode_image, png_bytes, read_layer
from ..inference import CLEAN, HINT_GAP, MAX_HINT_GAP, Colorizer
from .guards import RequestLimits, deadline_protocol
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
        # One colorizer for every request: lines and working size are options of each call. Each
        # request is one page (batch 1), and a server runs for hours: `auto` may compile.
        self.colorizer = Colorizer.from_pretrained(model_dir, device=settings.device, batch_size=1,
                                                   backend=settings.backend, images=SERVER_IMAGES)
        self.colorizer.warm_up()  # a compiled graph is built now, not on the first request (or two at once)
        self.name = model_label(model_dir)
        self.info = model_info(model_dir)
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
        """The request's JSON hints, or an HTTP 422 saying what is wrong. A hint layer is only
        checked here: decoding an image waits for a worker (`colorize_png`), off the event loop."""
        if text is None and layer is None:
            return None
        if not self.colorizer.takes_hints:
            raise HTTPException(422, f"the model {self.name} was trained without color hints; send none")
        if text is not None and layer is not None:
            raise HTTPException(422, "send hints as JSON or as a hint layer, not both")
        try:
            return parse_hints(text, source="hints") if text is not None else None
        except SketchcolorError as err:  # unreadable JSON, bad colors, ...
            raise HTTPException(422, str(err)) from None

    def colorize_png(self, data: bytes, name: str, lines: str, size: int, hints: Hints | None = None,
                     layer: bytes | None = None, hint_gap: float = HINT_GAP, clean: bool = CLEAN) -> bytes:
        """Runs on a pool thread: decode the sketch (and the hint layer), colorize, encode."""
        sketch = decode_image(data, name, self.settings.max_pixels)
        if layer is not None:
            try:
                hints = hint_layer(read_layer(layer, "hint_layer", self.settings.max_pixels))
            except SketchcolorError as err:  # a bad layer is a bad parameter (422), not a bad sketch (415)
                raise SketchcolorError(str(err)) from None
        if hints:
            hints.check(sketch.size)
        return png_bytes(self.colorizer(sketch, lines=lines, size=size, hints=hints, hint_gap=hint_gap,
                                        clean=clean))


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
    study_bytes = settings.study_limits.max_body_bytes
    limits = [("/api/study/", study_bytes, f"a study request is limited to {study_bytes // 1024} KB"),
              ("/", settings.max_upload_bytes + FORM_OVERHEAD, _too_large(settings))]
    app.add_middleware(RequestLimits, body_limits=limits, stall_s=settings.body_timeout_s)
    _add_error_handlers(app)
    app.include_router(_api_routes())
    add_study(app, settings.study_db, settings.study_limits)
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
        hint_gap: Annotated[float, Form(ge=0, le=MAX_HINT_GAP,
                                        description="gaps in an outline up to this fraction of the page's side "
                                                    "stop a hint's fill (0: none do)")] = HINT_GAP,
        clean: Annotated[bool, Form(description="bring a scanned page's gray paper to white and faint lines to "
                                                "ink, and turn screentone into the gray it prints, before coloring (a clean "
                                                "page is left as it is)")] = CLEAN,
    ) -> Response:
        """Colorize one sketch, following the color hints if any; the result is a PNG at the sketch's size."""
        # `lines` is spelled out (compose.LINE_MODES) so the OpenAPI schema lists its values.
        service: Service = request.app.state.service
        working = service.check_size(size)
        if hints is None and await _sent_empty(request, "hints"):
            raise HTTPException(422, "hints is empty: send the hint-file JSON, or leave the field out")
        data = await file.read(service.settings.max_upload_bytes + 1)
        if len(data) > service.settings.max_upload_bytes:
            raise HTTPException(413, _too_large(service.settings))
        layer = await hint_layer.read(service.settings.max_upload_bytes + 1) if hint_layer is not None else None
        page_hints = service.read_hints(hints, layer)
        retry = {"Retry-After": str(service.settings.retry_after_s)}
        try:
            png = await service.pool.run(service.colorize_png, data, file.filename or "upload", lines, working,
                                         page_hints, layer, hint_gap, clean)
        except QueueFull:
            raise HTTPException(503, "the colorizer is busy; try again shortly", headers=retry) from None
        except asyncio.CancelledError:  # the server is stopping: uvicorn cancels what outlasts its grace period
            raise HTTPException(503, "the server is stopping; try again shortly", headers=retry) from None
        except ImageTooLargeError as err:
            raise HTTPException(413, str(err)) from None
        except ImageReadError as err:
            raise HTTPException(415, str(err)) from None
        except SketchcolorError as err:  # hints that do not fit the page, an unreadable hint layer
            raise HTTPException(422, str(err)) from None
        return Response(png, media_type="image/png")

    return router


async def _sent_empty(request: Request, field: str) -> bool:
    """FastAPI reads an empty form field as one left out; an empty hint file sent on purpose
    is a mistake to report, not a request without hints."""
    return (await request.form()).get(field) == ""


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


def run_server(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until Ctrl-C or SIGTERM. Large uploads spill to temporary files (Starlette spools
    parts over 1 MB); they go to a private directory that is removed when the server stops."""
    import uvicorn

    app = create_app(settings)
    with tempfile.TemporaryDirectory(prefix="sketchcolor-serve-") as spool, _sigterm_after_stop_ignored():
        tempfile.tempdir = spool
        try:
            uvicorn.run(app, host=host, port=port, log_level="info", http=deadline_protocol(settings.header_timeout_s),
                        limit_concurrency=settings.max_connections,
                        timeout_keep_alive=settings.idle_timeout_s,  # type: ignore[arg-type]
                        timeout_graceful_shutdown=settings.shutdown_timeout_s)  # type: ignore[arg-type]
        finally:
            tempfile.tempdir = None


@contextmanager
def _sigterm_after_stop_ignored() -> Iterator[None]:
    """uvicorn stops gracefully on SIGTERM as on SIGINT, then raises the signal again for the
    handler it found. Python's default handler for SIGTERM ends the process at once (exit 143),
    skipping the cleanup above, so while uvicorn runs the handler it finds does nothing: the
    stop ends in a normal return, the spool folder removed, exit 0."""
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
