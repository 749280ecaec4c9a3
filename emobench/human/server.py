"""``emobench human serve``: the local rating web app (FastAPI; run by uvicorn, on 127.0.0.1 by default).

Routes: ``GET /`` the page; ``GET /api/next?rater=ID`` the rater's next unanswered task (opaque ids only,
sides in the rater's seeded order) and progress; ``POST /api/vote`` the answers to one task; ``POST
/api/undo`` the rater's last answered task taken back (served again); ``GET /img/{name}`` an image of the
study, and nothing else. Every refusal is a 4xx with nothing written: unknown task 404, nothing to undo 404,
second answer to a task 409, a body that does not echo what was served (tampered ids, order or method names)
or a malformed rater id 422, an oversized body 413.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from emobench.human.page import PAGE
from emobench.human.store import DuplicateVote, Vote, VoteStore, now
from emobench.human.tasks import Study, Task, rater_order, shown_order

RATER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
TASK_PATTERN = r"^t[0-9a-f]{16}$"
IMAGE_PATTERN = r"^i[0-9a-f]{16}$"
IMAGE_FILE = re.compile(r"^i[0-9a-f]{16}\.png$")
MAX_BODY = 8 * 1024   # a vote is ~300 bytes; anything far larger is refused before it is parsed


class VoteIn(BaseModel):
    """What the page posts: the answers, and an echo of what it was shown (checked against the server)."""

    model_config = ConfigDict(extra="forbid")   # a body naming methods (or anything else) is refused

    rater: str = Field(pattern=RATER_PATTERN)
    task_id: str = Field(pattern=TASK_PATTERN)
    order: Literal["AB", "BA"]
    left: list[str] = Field(max_length=32)
    right: list[str] = Field(max_length=32)
    answers: dict[Literal["emotion", "clarity", "diversity"], Literal["left", "right"]] = Field(max_length=3)
    shown_at: float


class UndoIn(BaseModel):
    """Take back the rater's last answered task (it is served again)."""

    model_config = ConfigDict(extra="forbid")
    rater: str = Field(pattern=RATER_PATTERN)


class BodyLimit:
    """ASGI middleware: a request with a body must declare its length (411 otherwise: the page and every
    HTTP client send Content-Length for a JSON body) and stay within ``limit`` bytes (413), checked before
    any of it is read. uvicorn never hands the app more bytes than the declared length."""

    def __init__(self, app, limit: int = MAX_BODY):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("method") not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(scope.get("headers") or [])
            declared = headers.get(b"content-length")
            if declared is None:
                return await _plain(send, 411, "send the body with a Content-Length")
            if not declared.isdigit() or int(declared) > self.limit:
                return await _plain(send, 413, "request body too large")
        return await self.app(scope, receive, send)


async def _plain(send, status: int, text: str) -> None:
    body = ('{"detail": "%s"}' % text).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _sides(study: Study, rater: str, task: Task) -> tuple[str, list[str], list[str]]:
    order = shown_order(study, rater, task)
    return (order, task.a, task.b) if order == "AB" else (order, task.b, task.a)


def create_app(study: Study, study_dir: Path, store: VoteStore, title: str = "emobench rating") -> FastAPI:
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    tasks = study.by_id()
    images_dir = (Path(study_dir) / "images").resolve()
    files = {name for name in study.images.values()}

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE

    @app.get("/api/health")
    def health() -> dict:
        return {"ok": True, "tasks": len(tasks)}

    @app.get("/api/next")
    def next_task(rater: str = Query(pattern=RATER_PATTERN)) -> dict:
        order = rater_order(study, rater)
        done = store.answered_tasks(rater)
        todo = [t for t in order if t.task_id not in done]
        progress = {"done": len(order) - len(todo), "total": len(order)}
        if not todo:
            return {"task": None, "progress": progress}
        task = todo[0]
        side, left, right = _sides(study, rater, task)
        return {"task": {"task_id": task.task_id, "emotion": task.emotion, "order": side,
                         "left": left, "right": right, "shown_at": now(),
                         "questions": [{"id": q, "text": task.question_text(q)} for q in task.questions]},
                "progress": progress}

    @app.post("/api/vote")
    def vote(body: VoteIn) -> dict:
        task = tasks.get(body.task_id)
        if task is None:
            raise HTTPException(404, f"unknown task {body.task_id}")
        side, left, right = _sides(study, body.rater, task)
        if (body.order, body.left, body.right) != (side, left, right):
            raise HTTPException(422, "the images or their order differ from what this task shows this rater")
        if set(body.answers) != set(task.questions):
            raise HTTPException(422, f"answer exactly these questions: {', '.join(task.questions)}")
        t = now()
        if not (t - 7 * 86400 < body.shown_at <= t + 5):
            raise HTTPException(422, "shown_at is not the time the task was served")
        votes = [Vote(body.rater, task.task_id, q, body.answers[q], side, body.shown_at, t, "serve")
                 for q in task.questions]
        try:
            store.add_task_votes(votes)
        except DuplicateVote as err:
            raise HTTPException(409, str(err)) from None
        return {"ok": True}

    @app.post("/api/undo")
    def undo(body: UndoIn) -> dict:
        undone = store.undo_last(body.rater)
        if undone is None:
            raise HTTPException(404, "nothing to undo")
        return {"ok": True, "task_id": undone}

    @app.get("/img/{name}")
    def image(name: str) -> FileResponse:
        # Only the study's own image files, by exact name: nothing outside images/ can be named.
        if not IMAGE_FILE.match(name) or name not in files:
            raise HTTPException(404, "no such image")
        path = (images_dir / name).resolve()
        if path.parent != images_dir or not path.is_file():
            raise HTTPException(404, "no such image")
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    return BodyLimit(app)  # type: ignore[return-value]


def serve(study: Study, study_dir: Path, store: VoteStore, host: str = "127.0.0.1", port: int = 8765) -> None:
    import uvicorn

    uvicorn.run(create_app(study, study_dir, store), host=host, port=port, log_level="warning",
                access_log=False)
