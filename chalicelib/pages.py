"""The small HTML pages people see when they follow a confirmation link from an e-mail."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

from chalice.app import Response

from chalicelib import errors
from chalicelib.openapi import Answer, answers

if TYPE_CHECKING:
    from chalicelib.services.subscribe import Confirmed

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2937}}
h1{{font-size:1.5rem}}</style></head>
<body><h1>{title}</h1><p>{message}</p></body></html>
"""
HTML_HEADERS = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


def page(status: int, title: str, message: str) -> Response:
    body = _PAGE.format(title=html.escape(title), message=html.escape(message))
    return Response(body=body, status_code=status, headers=dict(HTML_HEADERS))


@answers(
    Answer(200, "text/html", "Confirmed: a small HTML page."),
    Answer(302, None, "Confirmed: redirect to the group's confirmRedirectUrl.", headers=("Location",)),
    Answer(400, "text/html", "The link is not valid or has expired: an HTML page."),
)
def confirmation_page(confirm: Callable[[], Confirmed]) -> Response:
    """Run the confirmation; redirect to the group's page, or say so in HTML; a bad link is a 400 page."""
    try:
        confirmed = confirm()
    except errors.BadRequest as error:
        return page(400, "Link not valid", f"{error.message} Sign up again to get a new one.")
    if confirmed.redirect_url:
        return Response(
            body="", status_code=302, headers={"Location": confirmed.redirect_url, "Cache-Control": "no-store"}
        )
    return page(200, "Subscription confirmed", f"Thank you! Your subscription to {confirmed.group_name} is confirmed.")
