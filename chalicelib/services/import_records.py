"""Reads an import file's records incrementally from any byte offset: CSV (RFC 4180) or NDJSON.

Only complete records are handed out, each with the physical line it starts on and
the byte offset just after it, so a worker can stop after any record, save that
offset (and the line count), and a later worker resumes exactly there. Quoted CSV
fields may hold line breaks, so the file is never cut blindly on bytes: lines are
fed to Python's `csv` reader, which asks for more lines until a record is complete.
Memory holds one read window and one record, whatever the file's size.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chalicelib.schemas.imports import COLUMN_TARGETS, CUSTOM_FIELD_PREFIX

BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
MAX_LINE_BYTES = 1024 * 1024
DELIMITERS = (",", ";", "\t")
TAG_SEPARATOR = "|"
# A quoted field may hold at most this many characters (csv's own default is 128 KiB).
csv.field_size_limit(1024 * 1024)


class FileUnreadable(Exception):
    """The file as a whole is not what it claims: the import fails with `code` and `message`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Position:
    """Where reading stands: absolute byte offset and physical lines consumed before it."""

    offset: int
    lines: int


@dataclass
class Record:
    line: int  # physical line (1-based) the record starts on
    end: Position  # just after the record
    values: Any = None  # CSV: list of cells; NDJSON: the decoded JSON value
    error: str | None = None  # the record could not be read (its message)


class LineSource:
    """Physical lines (decoded UTF-8, line break kept) from byte chunks, counting bytes and lines."""

    def __init__(self, chunks: Iterable[bytes], start: Position) -> None:
        self._chunks = iter(chunks)
        self.position = Position(start.offset, start.lines)
        self._buffer = b""
        self._first = start.offset == 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        while True:
            cut = self._buffer.find(b"\n")
            if cut >= 0:
                raw, self._buffer = self._buffer[: cut + 1], self._buffer[cut + 1 :]
                return self._decode(raw)
            if len(self._buffer) > MAX_LINE_BYTES:
                raise FileUnreadable("line_too_long", f"line {self.position.lines + 1} is longer than 1 MiB")
            chunk = next(self._chunks, None)
            if chunk is None:
                if not self._buffer:
                    raise StopIteration
                raw, self._buffer = self._buffer, b""
                return self._decode(raw)
            self._buffer += chunk

    def _decode(self, raw: bytes) -> str:
        length = len(raw)
        if self._first:
            self._first = False
            raw = raw.removeprefix(BOM)
        self.position = Position(self.position.offset + length, self.position.lines + 1)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FileUnreadable("invalid_encoding", f"line {self.position.lines} is not UTF-8 text") from None


def sniff(head: bytes) -> str | None:
    """ "gzip", "zip" or None (plain text, presumably) from a file's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZIP_MAGIC):
        return "zip"
    return None


def detect_delimiter(header_line: str) -> str:
    """The delimiter the header uses most (outside quotes); a comma when there is none."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass
class CsvHeader:
    delimiter: str
    columns: list[str]
    end: Position


def read_csv_header(chunks: Iterable[bytes]) -> CsvHeader:
    """The header record of a CSV file read from its start."""
    source = LineSource(chunks, Position(0, 0))
    first = next(source, None)
    while first is not None and not first.strip():
        first = next(source, None)
    if first is None:
        raise FileUnreadable("empty_file", "The file is empty: a CSV file starts with a header row.")
    if "\x00" in first:
        raise FileUnreadable("not_csv", "The file is not CSV text (it holds NUL bytes).")
    delimiter = detect_delimiter(first)
    lines = _prepend(first, source)
    try:
        columns = next(csv.reader(lines, delimiter=delimiter))
    except (csv.Error, StopIteration) as error:
        raise FileUnreadable("not_csv", f"The header row is not valid CSV: {error}") from None
    return CsvHeader(delimiter, [c.strip() for c in columns], source.position)


def _prepend(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def read_csv(chunks: Iterable[bytes], start: Position, delimiter: str) -> Iterator[Record]:
    """CSV records after `start` (which is past the header), each with its first line and end."""
    source = LineSource(chunks, start)
    reader = csv.reader(source, delimiter=delimiter, strict=True)
    while True:
        line = source.position.lines + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            if "NUL" in str(error):
                raise FileUnreadable("not_csv", f"line {line} holds a NUL byte: the file is not CSV text") from None
            yield Record(line, source.position, error=f"not valid CSV: {error}")
            continue
        # Blank lines between records are skipped (csv hands them out as empty records).
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        yield Record(line, source.position, values=cells)


def read_ndjson(chunks: Iterable[bytes], start: Position) -> Iterator[Record]:
    """One JSON object per line; blank lines are skipped (and counted)."""
    source = LineSource(chunks, start)
    for text in source:
        if not text.strip():
            continue
        line = source.position.lines
        try:
            value = json.loads(text)
        except ValueError as error:
            if "\x00" in text:
                raise FileUnreadable("not_ndjson", f"line {line} holds a NUL byte: the file is not NDJSON") from None
            yield Record(line, source.position, error=f"not valid JSON: {error}")
            continue
        yield Record(line, source.position, values=value)


@dataclass
class ColumnMap:
    """Which header column feeds which contact field."""

    header: list[str]
    targets: list[str | None]  # per header column: its field, or None (ignored)
    column_of: dict[str, str] = field(default_factory=dict)  # field (or "customFields") -> header name

    @classmethod
    def build(cls, header: list[str], columns: dict[str, str] | None, dedupe_on: str) -> ColumnMap:
        """Explicit `columns` first, then headers named like a field (case-insensitive); the rest is ignored."""
        explicit = columns or {}
        missing = [name for name in explicit if name not in header]
        if missing:
            raise FileUnreadable(
                "missing_columns", f"The header has no column {', '.join(repr(m) for m in missing)} named in columns."
            )
        by_lower = {target.lower(): target for target in COLUMN_TARGETS}
        taken = set(explicit.values())
        targets: list[str | None] = []
        for name in header:
            target = explicit.get(name)
            if target is None and name not in explicit:
                guess = by_lower.get(name.lower())
                if guess is None and name.startswith(CUSTOM_FIELD_PREFIX) and len(name) > len(CUSTOM_FIELD_PREFIX):
                    guess = name
                if guess is not None and guess not in taken:
                    target = guess
                    taken.add(guess)
            targets.append(target)
        mapped = cls(header, targets)
        for name, target in zip(header, targets, strict=True):
            if target is not None:
                key = "customFields" if target.startswith(CUSTOM_FIELD_PREFIX) else target
                mapped.column_of.setdefault(key, name)
        needed = "externalId" if dedupe_on == "externalId" else "email"
        if needed not in mapped.column_of:
            raise FileUnreadable(f"no_{needed.lower()}_column", f"No column maps to {needed} (see columns).")
        return mapped

    def row(self, cells: list[str]) -> tuple[dict[str, Any] | None, str | None]:
        """The bulk row of a record (empty cells left out: they leave stored values alone), or an error."""
        if len(cells) > len(self.header) and any(c.strip() for c in cells[len(self.header) :]):
            return None, f"the row has {len(cells)} cells, the header {len(self.header)}"
        row: dict[str, Any] = {}
        for target, cell in zip(self.targets, cells, strict=False):
            if target is None:
                continue
            value = cell.strip()
            if not value:
                continue
            if target == "tags":
                tags = [tag.strip() for tag in value.split(TAG_SEPARATOR) if tag.strip()]
                if tags:
                    row["tags"] = tags
            elif target.startswith(CUSTOM_FIELD_PREFIX):
                row.setdefault("customFields", {})[target[len(CUSTOM_FIELD_PREFIX) :]] = value
            else:
                row[target] = value
        return row, None
