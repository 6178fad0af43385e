"""Outgoing e-mail through Amazon SES."""

from __future__ import annotations

from chalicelib.repository.aws import client


def send_email(sender: str, to: str, subject: str, text: str, html: str) -> str:
    """Send one message; answer SES's message id."""
    answer = client("ses").send_email(
        Source=sender,
        Destination={"ToAddresses": [to]},
        Message={
            "Subject": {"Data": subject, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": text, "Charset": "UTF-8"}, "Html": {"Data": html, "Charset": "UTF-8"}},
        },
    )
    return str(answer["MessageId"])
