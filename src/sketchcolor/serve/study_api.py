"""The study's page and API: participants fetch their next sketch, rate it, and move on.

Nothing sent to the page names a method: results are served by random tokens, in an order
drawn from the participant's anonymous id (see study.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from .pages import page
from .study import AlreadyAnswered, InvalidAnswer, StudyStore, UnknownParticipant

Score = Annotated[int, Field(ge=1, le=5, strict=True)]
Criterion = Literal["naturalness", "saturation", "colorfulness"]


class Answer(BaseModel):
    item: int
    ratings: dict[str, dict[Criterion, Score]] = Field(description="image token -> criterion -> 1..5")
    most_natural: str | None = Field(None, description="the token of the most natural result, if one was picked")


def add_study(app: FastAPI, db: Path | None) -> None:
    """Serve /study; the API answers 404 when the server was started without a study."""
    app.state.study = StudyStore(db) if db is not None else None
    app.include_router(router)


def _store(request: Request) -> StudyStore:
    store = request.app.state.study
    if store is None:
        raise HTTPException(404, "no study is running on this server (start it with `serve --study DB`)")
    return store


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


@router.post("/api/study/participants", status_code=201)
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


@router.post("/api/study/participants/{participant}/answers", status_code=201)
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
