"""Publish the subscribe widget to its S3 bucket, configured for one stage's API.

    python -m devstack.widget --bucket <WidgetBucketName> --api-origin https://api.example.com

uploads `widget/subscribe-widget.js` twice, with `__CONTACTS_API_ORIGIN__` replaced:
at `widget/subscribe-widget.js` (cached 5 minutes: the stable URL sites embed) and at
`widget/<content-hash>/subscribe-widget.js` (cached a year, immutable). The local
stack calls `publish` itself, adding the demo page.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass
from typing import Any

from devstack.resources import ROOT

WIDGET = ROOT / "widget" / "subscribe-widget.js"
DEMO = ROOT / "widget" / "demo.html"
ORIGIN_PLACEHOLDER = "__CONTACTS_API_ORIGIN__"
GROUP_PLACEHOLDER = "__DEMO_GROUP_ID__"
PREFIX = "widget/"


@dataclass(frozen=True)
class Published:
    stable_key: str
    versioned_key: str
    demo_key: str | None


def widget_source(api_origin: str) -> bytes:
    return WIDGET.read_text().replace(ORIGIN_PLACEHOLDER, api_origin.rstrip("/")).encode()


def publish(s3: Any, bucket: str, api_origin: str, demo_group_id: str | None = None) -> Published:
    body = widget_source(api_origin)
    digest = hashlib.sha256(body).hexdigest()[:12]
    stable = PREFIX + "subscribe-widget.js"
    versioned = f"{PREFIX}{digest}/subscribe-widget.js"
    script = {"ContentType": "application/javascript; charset=utf-8", "Body": body}
    s3.put_object(Bucket=bucket, Key=stable, CacheControl="public, max-age=300", **script)
    s3.put_object(Bucket=bucket, Key=versioned, CacheControl="public, max-age=31536000, immutable", **script)
    demo_key = None
    if demo_group_id:
        demo_key = PREFIX + "demo.html"
        page = DEMO.read_text().replace(GROUP_PLACEHOLDER, demo_group_id).replace(ORIGIN_PLACEHOLDER, api_origin)
        s3.put_object(
            Bucket=bucket,
            Key=demo_key,
            Body=page.encode(),
            ContentType="text/html; charset=utf-8",
            CacheControl="no-cache",
        )
    return Published(stable, versioned, demo_key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.widget", description=__doc__)
    parser.add_argument("--bucket", required=True)
    parser.add_argument(
        "--api-origin", required=True, help="e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/v1"
    )
    args = parser.parse_args(argv)
    import boto3

    published = publish(boto3.client("s3"), args.bucket, args.api_origin)
    print(f"s3://{args.bucket}/{published.stable_key}")
    print(f"s3://{args.bucket}/{published.versioned_key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
