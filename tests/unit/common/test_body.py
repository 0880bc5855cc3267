"""One reading of bodies and URLs (common.body): JSON only, strict, and no U+0000."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from common.app import build_app
from common.body import read_json
from common.errors import PROBLEM, Problem

_JSON = {"content-type": "application/json"}


class Note(BaseModel):
    text: str


def _client() -> TestClient:
    app = build_app("unit", form_paths=frozenset({"/form"}))

    @app.post("/notes")
    async def post_note(body: Note) -> dict[str, str]:
        return {"text": body.text}

    @app.get("/notes")
    async def find(q: str = "") -> dict[str, str]:
        return {"q": q}

    @app.post("/form")
    async def form() -> dict[str, str]:
        return {"ok": "yes"}

    return TestClient(app)


def _problem(resp: Any, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM
    assert resp.json()["code"] == code


def test_a_strict_json_body_reaches_the_route_unchanged() -> None:
    resp = _client().post("/notes", content=b'{"text": "caf\\u00e9"}', headers=_JSON)
    assert resp.status_code == 200 and resp.json() == {"text": "café"}


def test_a_key_given_twice_is_a_400_not_the_last_one_wins() -> None:
    resp = _client().post("/notes", content=b'{"text": "a", "text": "b"}', headers=_JSON)
    _problem(resp, 400, "duplicate_key")


@pytest.mark.parametrize("raw", [b'{"text": NaN}', b'{"text": "a"', b"\xff\xfe", b"[" * 100_000])
def test_a_body_that_is_not_strict_json_is_a_400(raw: bytes) -> None:
    with pytest.raises(Problem) as bad:
        read_json("application/json", raw)
    assert bad.value.status == 400


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
def test_a_body_that_is_not_json_is_a_415(content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    resp = _client().post("/notes", content=b'{"text": "a"}', headers=headers)
    _problem(resp, 415, "unsupported_media_type")


def test_a_form_body_is_taken_only_where_the_app_takes_forms() -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert _client().post("/form", content=b"a=1", headers=form).status_code == 200
    _problem(
        _client().post("/notes", content=b"text=a", headers=form), 415, "unsupported_media_type"
    )
    _problem(_client().post("/form", content=b"a=%00", headers=form), 422, "validation_error")


def test_nul_anywhere_in_a_json_body_is_a_422() -> None:
    for raw in (b'{"text": "a\\u0000"}', b'{"te\\u0000xt": "a"}', b'{"text": ["\\u0000"]}'):
        with pytest.raises(Problem) as bad:
            read_json("application/json; charset=utf-8", raw)
        assert (bad.value.status, bad.value.code) == (422, "validation_error")
    resp = _client().post("/notes", content=b'{"text": "\\u0000"}', headers=_JSON)
    _problem(resp, 422, "validation_error")
    assert resp.json()["errors"][0]["loc"] == ["body", "text"]


def test_nul_in_the_query_or_the_path_is_a_422() -> None:
    client = _client()
    _problem(client.get("/notes?q=%00"), 422, "validation_error")
    _problem(client.get("/notes/%00"), 422, "validation_error")
    assert client.get("/notes?q=%2500").json() == {"q": "%00"}  # a literal "%00" is text


def test_a_path_given_its_own_limit_takes_a_larger_body_and_the_others_keep_64_kib() -> None:
    # given an app whose /big accepts up to 200 KiB
    app = build_app("unit", body_limits={"/big": 200 * 1024})

    @app.post("/big")
    async def big(body: Note) -> dict[str, int]:
        return {"length": len(body.text)}

    @app.post("/small")
    async def small(body: Note) -> dict[str, int]:
        return {"length": len(body.text)}

    client = TestClient(app)
    raw = b'{"text": "' + b"x" * 100_000 + b'"}'
    # when a 100 KB body is sent to each
    # then /big reads it and /small refuses it as too large
    assert client.post("/big", content=raw, headers=_JSON).json() == {"length": 100_000}
    _problem(client.post("/small", content=raw, headers=_JSON), 413, "body_too_large")
