"""GET /api/openapi.json and /api/docs answer without a key; the page's files come from this service."""

from __future__ import annotations

import json

from chalice.test import Client


def test_openapi_document_needs_no_key_and_names_the_caller_s_server(client: Client) -> None:
    answer = client.http.get("/api/openapi.json", headers={"Host": "api.example.test", "X-Forwarded-Proto": "https"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    document = json.loads(answer.body)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "https://api.example.test"}]
    assert "/api/contacts" in document["paths"]


def test_reference_page_loads_its_assets_relative_to_itself(client: Client) -> None:
    page = client.http.get("/api/docs")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    html = page.body.decode()
    for src in ("docs/swagger-ui.css", "docs/swagger-ui-bundle.js", "docs/reference.js"):
        assert f'"{src}"' in html
    assert "http://" not in html and "https://" not in html


def test_reference_assets_are_served_and_nothing_else(client: Client) -> None:
    script = client.http.get("/api/docs/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.body
    init = client.http.get("/api/docs/reference.js").body.decode()
    assert "validatorUrl: null" in init  # no badge fetched from validator.swagger.io
    assert client.http.get("/api/docs/swagger-ui.css").headers["Content-Type"].startswith("text/css")
    for name in ("LICENSE", "VERSION", "oauth2-redirect.html", "..%2F__init__.py", "index.css"):
        missing = client.http.get(f"/api/docs/{name}")
        assert missing.status_code == 404, name
        assert json.loads(missing.body)["error"]["code"] == "not_found"
