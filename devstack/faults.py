"""Faults the local stack can inject on request, for tests that prove nothing is lost (`--fault-port`).

moto never refuses a call, so the stack registers botocore hooks on the service's
own SQS client and lets a test switch them over a tiny HTTP control endpoint:

    POST /faults {"sqs": "refuse"}               every SQS call of the service fails (connection refused)
    POST /faults {"sqs": "accept"}               SQS works again
    POST /faults {"relayCrashAfterCalls": 1}     the relay dies right after its next successful
                                                 SendMessageBatch (once): part of its batch is sent
    POST /faults {"relay": "pause"}              the relay reads nothing (its stream mapping disabled,
                                                 or far behind): records wait on the stream
    POST /faults {"relay": "run"}                it catches up from where it stopped
    GET  /faults                                 the switches and what they did so far

Never part of a deployment: only `python -m devstack --fault-port N` starts it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.exceptions import EndpointConnectionError

from devstack.calls import RELAY, current_role


class RelayCrashed(Exception):
    """The injected death of the relay in the middle of a batch."""


class Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sqs_refused = False
        self.crash_after: int | None = None
        self.refused_calls = 0
        self.crashes = 0
        # Set while the relay is paused; the stack's StreamPump waits on it (make bench times a bulk
        # request with the relay paused and running: on AWS it is another Lambda on other machines).
        self.relay_paused = threading.Event()

    def install(self) -> None:
        from chalicelib.repository.aws import client

        events = client("sqs").meta.events
        events.register("before-call.sqs", self._before_sqs, unique_id="devstack-fault-sqs")
        events.register("after-call.sqs.SendMessageBatch", self._after_send, unique_id="devstack-fault-relay")

    def _before_sqs(self, model: Any, **_: Any) -> None:
        with self.lock:
            refuse = self.sqs_refused
            if refuse:
                self.refused_calls += 1
        if refuse:
            raise EndpointConnectionError(endpoint_url=f"sqs ({model.name}, refused by devstack --fault-port)")

    def _after_send(self, **_: Any) -> None:
        if current_role() != RELAY:
            return
        with self.lock:
            if self.crash_after is None:
                return
            self.crash_after -= 1
            if self.crash_after > 0:
                return
            self.crash_after = None
            self.crashes += 1
        raise RelayCrashed("the relay died after sending part of its batch (devstack --fault-port)")

    def update(self, body: dict[str, Any]) -> None:
        with self.lock:
            if "sqs" in body:
                self.sqs_refused = body["sqs"] == "refuse"
            if "relay" in body:
                if body["relay"] == "pause":
                    self.relay_paused.set()
                else:
                    self.relay_paused.clear()
            if "relayCrashAfterCalls" in body:
                after = body["relayCrashAfterCalls"]
                self.crash_after = int(after) if after is not None else None

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "sqs": "refuse" if self.sqs_refused else "accept",
                "relay": "pause" if self.relay_paused.is_set() else "run",
                "relayCrashAfterCalls": self.crash_after,
                "refusedCalls": self.refused_calls,
                "relayCrashes": self.crashes,
            }

    def serve(self, host: str, port: int) -> ThreadingHTTPServer:
        faults = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = json.dumps(faults.state()).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                faults.update(json.loads(self.rfile.read(length) or b"{}"))
                self._answer()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=server.serve_forever, name="faults", daemon=True).start()
        return server
