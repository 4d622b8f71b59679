"""The screen under every error body of a server: no path of its own folders leaves (issue 15 item 3).

The attacks against a live server (an untrusted version served by a scientist, a pipeline step
loading it, an error body echoing a server file) are in test_trust.py, beside the trust chain they
made easy; here, what the screen hides and what it leaves, on a small app of its own.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route

from slipway._disclosure import HIDDEN, PathScreen, ScreenedErrorsMiddleware
from slipway.errors import SlipwayError


def _screened_app(home: Path) -> TestClient:
    """A small app behind the server's screen, raising what a deeper layer might have written."""

    async def fails(request: Request) -> JSONResponse:
        status = int(request.query_params["status"])
        return JSONResponse(SlipwayError(f"cannot open {home}/cache/models/01H/model.pkl").to_dict(), status)

    async def page(_: Request) -> HTMLResponse:
        return HTMLResponse(f"<p>no such file {home}/artifacts/blobs/ab/cd</p>", 404)

    async def fine(_: Request) -> PlainTextResponse:
        return PlainTextResponse(f"my own path {home}/x and {home}/shared/rows.csv")

    async def shared(_: Request) -> JSONResponse:
        return JSONResponse({"error": {"message": f"{home}/shared/rows.csv has no header"}}, 400)

    app = Starlette(routes=[Route("/fails", fails), Route("/page", page), Route("/fine", fine),
                            Route("/shared", shared)])
    screen = PathScreen.around([home, tempfile.gettempdir()], shown=[home / "shared"])
    return TestClient(ScreenedErrorsMiddleware(app, screen=screen))


@pytest.mark.parametrize("status", [404, 500, 503])
def test_the_screen_hides_server_folders_in_every_error_body(tmp_path: Path, status: int) -> None:
    client = _screened_app(tmp_path)
    answer = client.get("/fails", params={"status": status})
    assert answer.status_code == status
    assert answer.json()["error"]["message"] == f"cannot open {HIDDEN}/model.pkl"
    assert int(answer.headers["content-length"]) == len(answer.content)
    html = client.get("/page")
    assert str(tmp_path) not in html.text and f"{HIDDEN}/cd" in html.text
    # What callers name (the shared folder) stays; a success body is never touched.
    assert client.get("/shared").json()["error"]["message"].startswith(str(tmp_path / "shared"))
    assert client.get("/fine").text == f"my own path {tmp_path}/x and {tmp_path}/shared/rows.csv"


def test_the_screen_keeps_text_that_only_looks_like_a_server_path(tmp_path: Path) -> None:
    screen = PathScreen.around([tmp_path / "home"])
    assert screen.text(f"{tmp_path}/home-other/x {tmp_path}/home") == f"{tmp_path}/home-other/x {HIDDEN}"
    assert screen.text(f"file://{tmp_path}/home/a.csv, then") == f"file://{HIDDEN}/a.csv, then"
    assert screen.text('{"m": "' + f"{tmp_path}/home/a\\n" + '"}') == '{"m": "' + f"{HIDDEN}/a\\n" + '"}'
    shown = PathScreen.around([tmp_path], shown=[tmp_path / "shared"])
    assert shown.text(f"{tmp_path}/shared/../secret") == f"{HIDDEN}/secret"
    assert not PathScreen().active and PathScreen().text(f"{tmp_path}/x") == f"{tmp_path}/x"
