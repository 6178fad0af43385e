"""Operator command line: `python -m chalicelib.admin create-tenant --name "Acme"`.

Talks to DynamoDB with the operator's own AWS credentials; honours
AWS_ENDPOINT_URL (the local stack) and the *_TABLE variables (a deployed stack's outputs).
"""

from __future__ import annotations

import argparse
import sys

from chalicelib.services import auth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-tenant", help="create a tenant and print its first API key (all scopes)")
    create.add_argument("--name", required=True)
    args = parser.parse_args(argv)
    if args.command == "create-tenant":
        name = args.name.strip()
        if not name:
            parser.error("--name must not be empty")
        print(auth.create_tenant(name).model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
