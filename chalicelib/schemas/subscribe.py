"""Bodies of the public subscribe route (used by the widget on third-party sites)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, StringConstraints

from chalicelib.schemas.common import Model, no_controls, normalize_email


def _signup_email(value: str) -> str:
    try:
        return normalize_email(value)
    except ValueError:
        # People read this one in the widget, under the field they typed in.
        raise ValueError("Please enter a valid email address.") from None


SignupEmail = Annotated[str, AfterValidator(_signup_email)]


class SubscribeBody(Model):
    # Forms on other people's sites may add fields of their own: ignore them rather than refuse the signup.
    model_config = ConfigDict(extra="ignore")

    group: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    email: SignupEmail
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=255), AfterValidator(no_controls)] | None
    ) = None
    formType: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] | None = None
    website: str | None = None  # the honeypot: people leave it empty


class SubscribeAnswer(Model):
    status: Literal["subscribed", "confirmation_required"]
