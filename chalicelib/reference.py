"""The public API reference: the OpenAPI document and a Swagger UI page whose assets this service serves itself.

Swagger UI's files come from the pinned `flask-swagger-ui` package (requirements.txt), which ships
Swagger UI's distribution; only its static files are read, Flask is never imported. The page
requests nothing from another host: the validator badge (validator.swagger.io) is switched off
and the favicon is inline.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

from chalice.app import Response

from chalicelib import errors
from chalicelib.openapi import Answer, answers

# name -> Content-Type; nothing else in the package is served.
ASSETS = {
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "reference.js": "application/javascript; charset=utf-8",
}
CACHE = "public, max-age=3600"

# Relative URLs: the page works under API Gateway's stage prefix (/v1/api/docs) as well as locally.
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Contacts API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body><div id="reference"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/reference.js"></script>
</body></html>
"""
_INIT = """window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#reference",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""


def _dist() -> Path:
    # find_spec locates the package without running its __init__ (which would import Flask).
    spec = importlib.util.find_spec("flask_swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise errors.Internal("Swagger UI's files are not installed.")
    return Path(next(iter(spec.submodule_search_locations))) / "dist"


@answers(Answer(200, "application/json", "The OpenAPI 3.1 document of this API.", {"type": "object"}))
def openapi_json(document: dict[str, Any]) -> Response:
    return Response(
        body=json.dumps(document), status_code=200, headers={"Content-Type": "application/json", "Cache-Control": CACHE}
    )


@answers(Answer(200, "text/html", "The API reference page (Swagger UI)."))
def reference_page() -> Response:
    return Response(body=_PAGE, status_code=200, headers={"Content-Type": "text/html; charset=utf-8"})


@functools.cache
def _asset_body(name: str) -> str:
    return _INIT if name == "reference.js" else (_dist() / name).read_text(encoding="utf-8")


@answers(
    Answer(200, "application/javascript", "A script of the reference page."),
    Answer(200, "text/css", "The reference page's style sheet."),
)
def reference_asset(name: str) -> Response:
    """A file of the reference page; 404 for anything not on the list."""
    content_type = ASSETS.get(name)
    if content_type is None:
        raise errors.NotFound("No such file.")
    return Response(
        body=_asset_body(name), status_code=200, headers={"Content-Type": content_type, "Cache-Control": CACHE}
    )
