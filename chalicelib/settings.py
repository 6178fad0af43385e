"""The one place that reads the environment; every other module imports `settings`."""

from __future__ import annotations

import os
from dataclasses import dataclass

STAGE_DEFAULT_TABLES = {
    "CONTACTS_TABLE": "fli-dev-contacts",
    "CONTACT_KEYS_TABLE": "fli-dev-contact-keys",
    "MEMBERSHIPS_TABLE": "fli-dev-memberships",
    "META_TABLE": "fli-dev-meta",
}


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    contacts_table: str
    contact_keys_table: str
    memberships_table: str
    meta_table: str

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ

        def table(name: str) -> str:
            return env.get(name) or STAGE_DEFAULT_TABLES[name]

        return cls(
            stage=env.get("STAGE", "dev"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            contacts_table=table("CONTACTS_TABLE"),
            contact_keys_table=table("CONTACT_KEYS_TABLE"),
            memberships_table=table("MEMBERSHIPS_TABLE"),
            meta_table=table("META_TABLE"),
        )


settings = Settings.from_env()
