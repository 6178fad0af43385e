"""What API Gateway adds in front of the Lambda, reproduced for Chalice's local server.

The merged template declares gateway responses so that answers API Gateway
gives by itself use the API's error envelope; the local server gets the same
here: an unknown path is a 404 `not_found`, not a 403 "Missing Authentication Token".
"""

from __future__ import annotations

import json
from typing import Any

from chalice.local import ChaliceRequestHandler, LocalGatewayException, ThreadedHTTPServer


class GatewayRequestHandler(ChaliceRequestHandler):
    def _send_error_response(self, error: LocalGatewayException) -> None:
        if error.CODE == 403:  # Chalice's stand-in for API Gateway's MISSING_AUTHENTICATION_TOKEN
            body = json.dumps({"error": {"code": "not_found", "message": "No such route."}}).encode()
            self._send_http_response(404, {"Content-Type": "application/json"}, body)
            return
        super()._send_error_response(error)

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method it has no do_X for (TRACE, QUERY, ...) with its own 501 HTML page;
        # Chalice's dispatch answers it like any method a route does not take (405 in the envelope).
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)


class GatewayHTTPServer(ThreadedHTTPServer):
    """Chalice's threaded server with a listen backlog fit for bursts (socketserver's default is 5)."""

    request_queue_size = 128
