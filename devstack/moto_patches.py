"""Every patch the local stack makes to its embedded moto (never deployed): one call for the devstack and the benches.

- devstack/atomic.py: DynamoDB's atomic conditions, transactions that back up only what they touch;
- devstack/moto_query.py: a Query reads its partition's window, not the whole table;
- devstack/moto_serialize.py: item reads answered with json.dumps instead of moto's shape walker.
"""

from __future__ import annotations


def install() -> None:
    from devstack import moto_query, moto_serialize
    from devstack.atomic import make_dynamodb_writes_atomic

    make_dynamodb_writes_atomic()
    moto_query.install()
    moto_serialize.install()
