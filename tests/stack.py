"""Start `python -m devstack` as a real process on free ports, for end-to-end and browser tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    api: str
    aws: str
    tenant_id: str
    api_key: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    ready: dict[str, Any] = field(default_factory=dict)  # everything the stack printed when it was ready

    def env(self) -> dict[str, str]:
        """Environment for a process that should talk to this stack's embedded AWS."""
        return {
            **os.environ,
            "AWS_ENDPOINT_URL": self.aws,
            "AWS_ACCESS_KEY_ID": "devstack",
            "AWS_SECRET_ACCESS_KEY": "devstack",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_stack(timeout: float = 60.0, *, args: Sequence[str] = (), aws_endpoint: str | None = None) -> Stack:
    """Start the stack; with `aws_endpoint` it uses that AWS (e.g. a separate moto server) instead of its own."""
    port, aws_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    if aws_endpoint:
        env.update(AWS_ENDPOINT_URL=aws_endpoint, AWS_ACCESS_KEY_ID="devstack", AWS_SECRET_ACCESS_KEY="devstack")
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--port", str(port), "--aws-port", str(aws_port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    ready: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        if line.startswith("{") and '"ready": true' in line:
            ready = json.loads(line)
            break
    if ready is None:
        process.kill()
        raise RuntimeError("devstack did not start:\n" + "".join(output))
    # Keep draining the output so that the process never blocks on a full pipe.
    import threading

    threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True).start()
    health = requests.get(ready["api"] + "/api/health", timeout=5)
    assert health.status_code == 200, health.text
    return Stack(ready["api"], ready["aws"], ready["tenantId"], ready["apiKey"], process, output, ready)


class HttpCaller:
    """A tenant's key against a running stack: `caller.post("/api/contacts", json={...})`."""

    def __init__(self, base: str, key: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["X-Api-Key"] = key

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 150)  # beyond the e2e stack's 120 s API limit (tests/conftest.py)
        return self.session.request(method, self.base + path, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)


def create_tenant(stack: Stack, name: str) -> dict[str, Any]:
    """Run the operator's CLI against the stack, as an operator would."""
    done = subprocess.run(
        [sys.executable, "-m", "chalicelib.admin", "create-tenant", "--name", name],
        cwd=ROOT,
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result
