"""Operator command line: `python -m chalicelib.admin create-tenant --name "Acme"`, `... backfill [--tenant ID]`.

Talks to DynamoDB with the operator's own AWS credentials; honours
AWS_ENDPOINT_URL (the local stack) and the *_TABLE variables (a deployed stack's outputs).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from chalicelib.repository import accounts
from chalicelib.services import auth, backfill


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-tenant", help="create a tenant and print its first API key (all scopes)")
    create.add_argument("--name", required=True)
    fill = commands.add_parser(
        "backfill", help="index and count contacts stored before the stream consumers ran (docs/search.md)"
    )
    fill.add_argument("--tenant", action="append", default=[], help="a tenant id (repeatable); default: every tenant")
    args = parser.parse_args(argv)
    if args.command == "create-tenant":
        name = args.name.strip()
        if not name:
            parser.error("--name must not be empty")
        print(auth.create_tenant(name).model_dump_json())
    elif args.command == "backfill":
        for tenant_id in args.tenant or accounts.tenant_ids():
            print(json.dumps(asdict(backfill.backfill_tenant(tenant_id))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
