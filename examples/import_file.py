"""Import a CSV or NDJSON file: start the import, upload the file, follow its progress, print the outcome.

    python -m examples.import_file contacts.csv --api http://127.0.0.1:8000 --key fli_...
    python -m examples.import_file export.csv --columns '{"E-Mail": "email", "Labels": "tags"}' --tag crm
    python -m examples.import_file --url https://files.example.com/export.csv ...   (the service downloads it)

The key may also come from CONTACTS_API_KEY. Exit status 0 when the import completed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

ENDED = ("completed", "failed", "cancelled")


def progress_bar(done: int, total: int | None, width: int = 40) -> str:
    if not total:
        return "[" + " " * width + "]   ?%"
    filled = min(width, width * done // total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {100 * done // total:3d}%"


def start(session: requests.Session, api: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = session.post(f"{api}/api/imports", json=body, timeout=30)
    if answer.status_code != 202:
        raise SystemExit(f"the import was refused: HTTP {answer.status_code} {answer.text}")
    started: dict[str, Any] = answer.json()
    return started


class MultipartFile:
    """multipart/form-data of `fields` then the file, read from disk as it is sent (a 1 GiB file never sits
    in memory). Its length is known, so the request has a Content-Length, which S3's POST requires
    (no `tell`/`fileno` on purpose: with them, requests would fall back to chunked encoding)."""

    def __init__(self, fields: dict[str, str], path: Path) -> None:
        self.boundary = uuid.uuid4().hex
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        )
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.parts = [io.BytesIO(head), path.open("rb"), io.BytesIO(tail)]
        self.length = len(head) + path.stat().st_size + len(tail)

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        size = self.length if size is None or size < 0 else size
        out = b""
        while self.parts and len(out) < size:
            chunk = self.parts[0].read(size - len(out))
            if not chunk:
                self.parts.pop(0).close()
                continue
            out += chunk
        return out


def upload(form: dict[str, Any], path: Path) -> None:
    """The presigned POST: its fields first, the file last, streamed from disk."""
    body = MultipartFile(form["fields"], path)
    headers = {"Content-Type": f"multipart/form-data; boundary={body.boundary}", "Content-Length": str(len(body))}
    answer = requests.post(form["url"], data=body, headers=headers, timeout=3600)
    if answer.status_code not in (200, 201, 204):
        raise SystemExit(f"the upload was refused: HTTP {answer.status_code} {answer.text[:500]}")


def follow(session: requests.Session, api: str, import_id: str, every: float) -> dict[str, Any]:
    while True:
        current: dict[str, Any] = session.get(f"{api}/api/imports/{import_id}", timeout=30).json()
        line = progress_bar(current["bytesProcessed"], current["bytesTotal"])
        print(f"\r{line} {current['rowsProcessed']:>10,} rows  {current['status']:<16}", end="", flush=True)
        if current["status"] in ENDED:
            print()
            return current
        time.sleep(every)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.import_file", description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", type=Path, help="the CSV or NDJSON file to upload")
    parser.add_argument("--url", help="a file URL the service downloads instead (https; user:password@ for Basic auth)")
    parser.add_argument("--api", default=os.environ.get("CONTACTS_API_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--key", default=os.environ.get("CONTACTS_API_KEY"))
    parser.add_argument("--format", choices=("csv", "ndjson"), help="default: from the file name")
    parser.add_argument("--columns", type=json.loads, help='file column -> contact field, as JSON: {"E-Mail": "email"}')
    parser.add_argument("--tag", action="append", default=[], help="a tag every row gets (repeatable)")
    parser.add_argument("--group", action="append", default=[], help="a group id every row joins (repeatable)")
    parser.add_argument("--on-duplicate", choices=("update", "skip"), default="update")
    parser.add_argument("--errors", type=int, default=10, help="how many row errors to print (default 10)")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between progress polls")
    args = parser.parse_args(argv)
    if not args.key:
        parser.error("an API key is needed: --key or CONTACTS_API_KEY")
    if (args.file is None) == (args.url is None):
        parser.error("give a FILE to upload or a --url to download, not both")
    suffix = args.file.suffix.lower() if args.file else ""
    body: dict[str, Any] = {
        "format": args.format or ("ndjson" if suffix in (".ndjson", ".jsonl") else "csv"),
        "tags": args.tag,
        "groupIds": args.group,
        "onDuplicate": args.on_duplicate,
    }
    if args.columns:
        body["columns"] = args.columns
    if args.url:
        body["fileUrl"] = args.url
    api = args.api.rstrip("/")
    session = requests.Session()
    session.headers["X-Api-Key"] = args.key
    started = start(session, api, body)
    print(f"import {started['id']} started")
    if args.file is not None:
        upload(started["upload"], args.file)
        print(f"uploaded {args.file} ({args.file.stat().st_size:,} bytes)")
    ended = follow(session, api, started["id"], args.every)
    counts = {name: ended[name] for name in ("created", "updated", "unchanged", "skipped", "errored")}
    print(json.dumps({"status": ended["status"], **counts, "failure": ended["failure"]}))
    if ended["errored"] and args.errors:
        page = session.get(f"{api}/api/imports/{started['id']}/errors", params={"limit": args.errors}, timeout=30)
        for error in page.json()["data"]:
            where = f"line {error['line']}" + (f", column {error['column']}" if error.get("column") else "")
            print(f"  {where}: {error['code']}: {error['message']}")
    return 0 if ended["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
