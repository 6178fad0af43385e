"""Import test files built with their expected outcome, and a local file server (http, Basic auth, redirects)."""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A German CRM export: semicolons, a BOM, CRLF, its own column names.
COLUMNS = {
    "E-Mail": "email",
    "Vorname": "firstName",
    "Nachname": "lastName",
    "Firma": "company",
    "Plan": "customFields.plan",
    "Labels": "tags",
}
HEADER = ["E-Mail", "Vorname", "Nachname", "Firma", "Plan", "Labels", "Notiz"]
IMPORT_TAG = "imported"


@dataclass
class NastyCsv:
    """`rows` rows; 1% bad emails; rows i % `every` == 0 exist unchanged beforehand, == every/2 exist differently."""

    rows: int
    every: int = 20
    text: str = ""
    seed: list[dict[str, Any]] = field(default_factory=list)  # bulk rows that create the existing contacts
    expected: dict[str, int] = field(default_factory=dict)
    error_lines: dict[int, str] = field(default_factory=dict)  # line -> email as sent

    def __post_init__(self) -> None:
        lines = ["\ufeff" + ";".join(HEADER)]
        line = 2
        counts = dict.fromkeys(("created", "updated", "unchanged", "skipped", "errored"), 0)
        for i in range(self.rows):
            contact = self.contact(i)
            bad = i % 100 == 7
            email = f"user{i:06d}-at-example.com" if bad else contact["email"]
            note = '"first line\nsecond; line with ""quotes"""' if i % 3 == 0 else "plain"
            first = f'"{contact["firstName"]}"' if ";" in contact["firstName"] else contact["firstName"]
            company = f'"{contact["company"]}"' if "," in contact["company"] else contact["company"]
            labels = "|".join(contact["tags"])
            cells = [email, first, "", company, contact["customFields"]["plan"], labels, note]
            lines.append(";".join(cells))
            if bad:
                counts["errored"] += 1
                self.error_lines[line] = email
            elif i % self.every == 0:
                counts["unchanged"] += 1
                self.seed.append({**contact, "tags": [*contact["tags"], IMPORT_TAG]})
            elif i % self.every == self.every // 2:
                counts["updated"] += 1
                self.seed.append({"email": contact["email"], "firstName": "Before", "lastName": "Kept"})
            else:
                counts["created"] += 1
            line += 2 if i % 3 == 0 else 1
        self.text = "\r\n".join(lines) + "\r\n"
        self.expected = counts

    @staticmethod
    def contact(i: int) -> dict[str, Any]:
        return {
            "email": f"user{i:06d}@example.com",
            "firstName": f"Doe; Jr {i}" if i % 10 == 1 else f"First{i}",
            "company": "Acme, Inc." if i % 5 == 0 else f"Company {i % 7}",
            "customFields": {"plan": "pro" if i % 2 else "free"},
            "tags": ["a", "b"] if i % 2 == 0 else [],
        }


@dataclass
class FileServer:
    """Serves `files` (path -> bytes) over http on 127.0.0.1; `auth` ("user:pass") is required when set.

    Paths in `redirects` answer 302 to their target URL.
    """

    files: dict[str, bytes] = field(default_factory=dict)
    auth: str | None = None
    redirects: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def url(self, path: str, credentials: str | None = None) -> str:
        assert self.server is not None
        userinfo = f"{credentials}@" if credentials else ""
        return f"http://{userinfo}127.0.0.1:{self.server.server_address[1]}{path}"

    def start(self) -> FileServer:
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                expected = "Basic " + base64.b64encode(served.auth.encode()).decode() if served.auth else None
                if self.path in served.redirects:
                    self.send_response(302)
                    self.send_header("location", served.redirects[self.path])
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                if expected and self.headers.get("authorization") != expected:
                    self._answer(401, b"")
                    return
                body = served.files.get(self.path)
                if body is None:
                    self._answer(404, b"not found")
                    return
                self._answer(200, body)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
