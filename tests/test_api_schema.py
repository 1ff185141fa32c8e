"""The HTTP API against its own OpenAPI document, with schemathesis: generated requests to
every operation (bounded examples), in-process, over a small archive. No answer may be a
server error, and every answer must be one the document declares: its status, its content
type, its body's schema, its headers. Then the inputs that used to break it: ids and
cursors past what a database integer holds."""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from scheduler.config import ServiceSettings
from scheduler.web.app import create_app
from tests.support.replay_archive import STORY, T2, build_archive

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
EXAMPLES = 40  # per operation: about 20 s for the whole document


# schemathesis loads the document when the module is collected: the app exists from then,
# over a data directory the module fixture fills before the first test and removes after
DATA = Path(tempfile.mkdtemp(prefix="newsarchive-api-schema-")) / "data"
APP = create_app(ServiceSettings(data_dir=DATA))  # its dispatcher never starts (no lifespan):
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)  # fuzzed crawls stay queued


@pytest.fixture(scope="module", autouse=True)
def archive() -> Iterator[None]:
    build_archive(DATA)
    yield
    APP.state.service.catalog.dispose()
    shutil.rmtree(DATA.parent, ignore_errors=True)


@pytest.fixture
def api_app() -> FastAPI:
    return APP


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_one_the_document_declares(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


HUGE = 2**70


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/api/v1/crawls/99999999999999999999", {}, 422),
    ("/api/v1/crawls/99999999999999999999/wacz", {}, 422),
    ("/api/v1/articles/99999999999999999999", {}, 422),
    ("/api/v1/crawls", {"cursor": HUGE}, 422),
    ("/api/v1/captures", {"url": "news.example.org", "match": "host",
                          "cursor": _cursor(["a", "b", HUGE])}, 422),
    ("/api/v1/articles", {"cursor": _cursor(["2026", HUGE])}, 422),
    ("/api/v1/articles", {"limit": HUGE}, 422),
    (f"/web/99999999999999999999id_/{STORY}", {}, 400),
    ("/ui/jobs/99999999999999999999", {}, 404),
    ("/ui/articles/99999999999999999999", {}, 404),
], ids=lambda value: value if isinstance(value, str) else None)
def test_out_of_range_ids_and_cursors_are_refused_not_errors(
        api_app: FastAPI, path: str, params: dict[str, object], status: int) -> None:
    client = TestClient(api_app, raise_server_exceptions=False)  # no lifespan: as the fuzzer
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    if path.startswith(("/api/", "/web/")):
        assert response.json()["error"]


def test_the_document_declares_no_nullable_field_the_server_refuses(api_app: FastAPI) -> None:
    patch = api_app.openapi()["components"]["schemas"]["SitePatch"]["properties"]
    for name in ("max_depth", "max_pages", "enabled"):
        assert "anyOf" not in patch[name] and patch[name].get("type") != "null", name
    assert TestClient(api_app).get(f"/web/{T2}id_/{STORY}").status_code == 200
