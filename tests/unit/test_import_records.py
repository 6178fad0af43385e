"""The import file reader: complete records only, exact offsets and physical lines, resumable anywhere."""

from __future__ import annotations

import pytest

from chalicelib.services.import_records import (
    ColumnMap,
    FileUnreadable,
    Position,
    detect_delimiter,
    read_csv,
    read_csv_header,
    read_ndjson,
    sniff,
)

CSV = (
    "\ufeffE-Mail;Name;Notiz\r\n"
    'a@example.com;Ann;"one; two"\r\n'
    "\r\n"
    'b@example.com;"Bob\r\nBobson";"say ""hi"""\r\n'
    "c@example.com;Cy;\r\n"
).encode()


def windows(data: bytes, size: int) -> list[bytes]:
    """The file as ranged GETs of `size` bytes would hand it out (cuts anywhere, inside UTF-8 too)."""
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("window", [1, 3, 7, 4096])
def test_records_carry_their_first_line_and_exact_end_whatever_the_read_window(window: int) -> None:
    header = read_csv_header(windows(CSV, window))
    assert (header.delimiter, header.columns) == (";", ["E-Mail", "Name", "Notiz"])
    records = list(read_csv(windows(CSV[header.end.offset :], window), header.end, header.delimiter))
    assert [(r.line, r.values) for r in records] == [
        (2, ["a@example.com", "Ann", "one; two"]),
        (4, ["b@example.com", "Bob\r\nBobson", 'say "hi"']),
        (6, ["c@example.com", "Cy", ""]),
    ]
    assert records[-1].end == Position(len(CSV), 6)


def test_reading_resumes_at_any_record_end_with_the_same_records() -> None:
    header = read_csv_header([CSV])
    everything = list(read_csv([CSV[header.end.offset :]], header.end, ";"))
    resume = everything[0].end
    again = list(read_csv([CSV[resume.offset :]], resume, ";"))
    assert [(r.line, r.values) for r in again] == [(r.line, r.values) for r in everything[1:]]


def test_a_stray_quote_is_a_row_error_and_reading_goes_on() -> None:
    data = b'email\n"x@example.com"oops\ny@example.com\n'
    header = read_csv_header([data])
    records = list(read_csv([data[header.end.offset :]], header.end, header.delimiter))
    assert records[0].error and records[0].line == 2
    assert (records[1].line, records[1].values) == (3, ["y@example.com"])


def test_ndjson_lines_are_objects_or_errors_and_blank_lines_count() -> None:
    data = b'{"email": "a@example.com"}\n\n{broken\n[1]\n'
    records = list(read_ndjson([data], Position(0, 0)))
    assert [(r.line, r.values, bool(r.error)) for r in records] == [
        (1, {"email": "a@example.com"}, False),
        (3, None, True),
        (4, [1], False),
    ]


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [("email,name", ","), ("email;name;x,y", ";"), ("email\tname", "\t"), ('"a;b",c', ","), ("email", ",")],
)
def test_the_delimiter_is_detected_from_the_header(header: str, delimiter: str) -> None:
    assert detect_delimiter(header) == delimiter


def test_files_are_recognised_by_content() -> None:
    assert sniff(b"\x1f\x8b\x08\x00") == "gzip"
    assert sniff(b"PK\x03\x04") == "zip"
    assert sniff(b"email,") is None
    with pytest.raises(FileUnreadable) as refused:
        list(read_csv([b"\xff\xfe\x00\n"], Position(10, 1), ","))
    assert refused.value.code == "invalid_encoding"


def test_columns_map_by_name_case_insensitively_and_explicitly() -> None:
    mapped = ColumnMap.build(
        ["Mail", "FirstName", "Plan", "Labels", "Other"],
        {"Mail": "email", "Plan": "customFields.plan", "Labels": "tags"},
        "email",
    )
    row, problem = mapped.row(["A@Example.com ", "Ann", "pro", "a| b ||c", "ignored"])
    assert problem is None
    assert row == {
        "email": "A@Example.com",
        "firstName": "Ann",
        "customFields": {"plan": "pro"},
        "tags": ["a", "b", "c"],
    }
    assert mapped.row(["x@example.com", "", "", "", "", "extra"])[1]
    assert mapped.row(["x@example.com", ""])[0] == {"email": "x@example.com"}  # missing cells are empty ones
    with pytest.raises(FileUnreadable) as no_email:
        ColumnMap.build(["Name"], None, "email")
    assert no_email.value.code == "no_email_column"
    with pytest.raises(FileUnreadable) as missing:
        ColumnMap.build(["email"], {"E-Mail": "email"}, "email")
    assert missing.value.code == "missing_columns"
