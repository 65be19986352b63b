"""The study's page and API: participants fetch their next sketch, rate it, and move on.

Nothing sent to the page names a method: results are served by random tokens, in an order
drawn from the participant's anonymous id (see study.py). New participants and answers are
rate-limited per client address and in all (settings.StudyLimits), so a script cannot fill
the study with fake people; `study report` flags the ones that get through.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from pathlib import Path
from typing import Annotated, Callable, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from .pages import page
from .settings import StudyLimits
from .study import MAX_ROW_ID, AlreadyAnswered, InvalidAnswer, StudyStore, UnknownParticipant

Score = Annotated[int, Field(ge=1, le=5, strict=True)]
Criterion = Literal["naturalness", "saturation", "colorfulness"]
HOUR = 3600.0


class Answer(BaseModel):
    item: int = Field(ge=1, le=MAX_ROW_ID, description="the sketch's id, as /next gave it")
    ratings: dict[str, dict[Criterion, Score]] = Field(description="image token -> criterion -> 1..5")
    most_natural: str | None = Field(None, description="the token of the most natural result, if one was picked")


class Quota:
    """At most `per_client` events from one client address and `total` from all clients in any
    `period_s` seconds: a sliding window of event times, in memory (one server process)."""

    EVERYONE = "*"  # the key of all clients' events (no address looks like it)

    def __init__(self, per_client: int, total: int, period_s: float = HOUR,
                 clock: Callable[[], float] = time.monotonic):
        self.per_client, self.total, self.period_s, self.clock = per_client, total, period_s, clock
        self._times: dict[str, deque[float]] = {}  # key -> its event times within the window, oldest first
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Count one event from `client` and return 0, or count nothing and return the seconds
        until it would be allowed."""
        now = self.clock()
        with self._lock:
            if len(self._times) > self.total + 1:  # at most `total` clients have events in the window
                self._times = {key: self._window(key, now) for key in list(self._times)}
                self._times = {key: times for key, times in self._times.items() if times}
            windows = [(self._window(self.EVERYONE, now), self.total), (self._window(client, now), self.per_client)]
            waits = [times[0] + self.period_s - now for times, limit in windows if len(times) >= limit]
            if waits:
                return max(waits)
            for times, _ in windows:
                times.append(now)
            return 0.0

    def _window(self, key: str, now: float) -> deque[float]:
        times = self._times.setdefault(key, deque())
        while times and times[0] <= now - self.period_s:
            times.popleft()
        return times


def add_study(app: FastAPI, db: Path | None, limits: StudyLimits) -> None:
    """Serve /study; the API answers 404 when the server was started without a study."""
    app.state.study = StudyStore(db) if db is not None else None
    app.state.study_quotas = {"participants": Quota(limits.participants_per_client, limits.participants_total),
                              "answers": Quota(limits.answers_per_client, limits.answers_total)}
    app.include_router(router)


def _store(request: Request) -> StudyStore:
    store = request.app.state.study
    if store is None:
        raise HTTPException(404, "no study is running on this server (start it with `serve --study DB`)")
    return store


def _within_quota(kind: str, what: str) -> Callable[[Request], None]:
    """A dependency that answers 429 + Retry-After when this client (or everyone) sent too many."""
    def check(request: Request) -> None:
        client = request.client.host if request.client else "unknown"
        wait = request.app.state.study_quotas[kind].take(client)
        if wait > 0:
            minutes = math.ceil(wait / 60)
            raise HTTPException(429, f"too many {what} from this address or in all; try again in {minutes} min",
                                headers={"Retry-After": str(math.ceil(wait))})
    return check


Store = Annotated[StudyStore, Depends(_store)]
router = APIRouter()
PNG_HEADERS = {"Cache-Control": "private, max-age=3600"}


@router.get("/study", include_in_schema=False)
def study_page() -> FileResponse:
    return page("study.html")


@router.get("/api/study")
def study_summary(store: Store) -> dict:
    """How many sketches, methods and answers the study has, and what is rated."""
    return store.summary()


@router.post("/api/study/participants", status_code=201,
             dependencies=[Depends(_within_quota("participants", "new participants"))])
def new_participant(store: Store) -> dict:
    """A new anonymous participant id (the page keeps it so a reload resumes)."""
    return {"participant": store.add_participant()}


@router.get("/api/study/participants/{participant}/next")
def next_item(participant: str, store: Store) -> dict:
    """The participant's next unanswered sketch and its results, or done."""
    try:
        item = store.next_item(participant)
    except UnknownParticipant as err:
        raise HTTPException(404, str(err)) from None
    if item is None:
        return {"done": True}
    return {"done": False, "item": item["item"], "answered": item["answered"], "total": item["total"],
            "sketch": f"/api/study/sketches/{item['item']}",
            "images": [{"token": token, "src": f"/api/study/images/{token}"} for token in item["images"]]}


@router.post("/api/study/participants/{participant}/answers", status_code=201,
             dependencies=[Depends(_within_quota("answers", "answers"))])
def save_answer(participant: str, answer: Answer, store: Store) -> dict:
    """Store one sketch's ratings (and most-natural pick); a second answer gets 409."""
    try:
        store.save_answer(participant, answer.item, answer.ratings, answer.most_natural)
    except UnknownParticipant as err:
        raise HTTPException(404, str(err)) from None
    except AlreadyAnswered as err:
        raise HTTPException(409, str(err)) from None
    except InvalidAnswer as err:
        raise HTTPException(422, str(err)) from None
    return {"saved": True}


@router.get("/api/study/images/{token}", response_class=Response)
def study_image(token: str, store: Store) -> Response:
    return _png_or_404(store.image(token), "no such image")


@router.get("/api/study/sketches/{item}", response_class=Response)
def study_sketch(item: int, store: Store) -> Response:
    return _png_or_404(store.sketch(item), "no such sketch")


def _png_or_404(png: bytes | None, missing: str) -> Response:
    if png is None:
        raise HTTPException(404, missing)
    return Response(png, media_type="image/png", headers=PNG_HEADERS)
