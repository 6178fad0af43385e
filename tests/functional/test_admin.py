"""The operator's command line creates tenants whose key works at once."""

from __future__ import annotations

import json

import pytest

from chalicelib import admin


def test_create_tenant_prints_one_json_line_with_a_working_key(client, capsys):
    assert admin.main(["create-tenant", "--name", "Acme"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    created = json.loads(lines[0])
    assert created["tenantId"].startswith("tnt_")
    assert created["apiKey"].startswith("fli_")
    assert created["scopes"] == ["contacts:read", "contacts:write", "webhooks:manage", "keys:manage"]
    answer = client.http.get("/api/keys", headers={"X-Api-Key": created["apiKey"]})
    assert answer.status_code == 200


def test_create_tenant_needs_a_name(aws, capsys):
    with pytest.raises(SystemExit) as exit_info:
        admin.main(["create-tenant", "--name", "  "])
    assert exit_info.value.code == 2
    assert "--name" in capsys.readouterr().err
