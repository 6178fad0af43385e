"""Bodies and answers of groups and group membership routes."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from chalicelib.schemas.common import MAX_PAGE, Body, GroupId, Identifier, Model, NotNull, Url, no_controls

MAX_GROUP_MEMBERS_PER_CALL = 500


class GroupCreate(Body):
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), AfterValidator(no_controls)
    ]
    doubleOptIn: bool = False
    confirmRedirectUrl: Url | None = None

    @field_validator("confirmRedirectUrl")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class GroupPatch(GroupCreate):
    """Only the fields present are applied; `confirmRedirectUrl: null` clears it."""

    name: Annotated[str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), NotNull] = None  # type: ignore[assignment]
    doubleOptIn: Annotated[bool | None, NotNull] = None  # type: ignore[assignment]


class Group(Model):
    id: str
    name: str
    doubleOptIn: bool
    confirmRedirectUrl: str | None
    createdAt: str
    updatedAt: str


class GroupWithCount(Group):
    memberCount: int


class GroupPage(Model):
    data: list[Group]
    nextCursor: str | None


class GroupListQuery(Model):
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 20
    cursor: str | None = None


class GroupMembersBody(Body):
    """contactIds and/or emails; for detach, a body with neither (`{}` or no body) means every member.

    `null` is refused, never read as "not sent": `{"emails": null}` must not detach everyone.
    """

    contactIds: Annotated[list[Identifier] | None, NotNull] = None
    emails: Annotated[list[Identifier] | None, NotNull] = None


class ContactGroupsBody(Body):
    groupIds: Annotated[list[GroupId], Field(min_length=1, max_length=500)]


class AttachAnswer(Model):
    attached: int
    alreadyMember: int
    notFound: int
    unprocessedIds: list[str] = []


class DetachAnswer(Model):
    detached: int
    unprocessedIds: list[str] = []
