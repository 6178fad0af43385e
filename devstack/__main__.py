"""`python -m devstack`: the whole service on this machine, with moto's server as AWS.

Starts moto's server (DynamoDB and friends) on --aws-port, creates every
resource from `.chalice/resources.json`, bootstraps a demo tenant and prints its
API key, then serves the Chalice app on --port, pumps the contacts table's stream into
the relay (`relay_contact_changes`, as Lambda's event source mapping would), runs the
SQS-triggered handlers (activity timeline and webhook delivery; the import worker, fed by the imports
bucket's notifications) on poller threads against the embedded queues, and the rotate_tags schedule on a
timer (--rotate-every; SIGUSR2 runs it at once). --fault-port starts the fault switches (devstack/faults.py).
The API answers only once all of that is done, so a client may poll GET /api/health to know it is ready.
Pointing AWS_ENDPOINT_URL elsewhere beforehand uses that AWS instead of moto.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from typing import Any

from devstack.resources import ROOT, create_all, stage_environment

STAGE = "dev"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="port of the API (default 8000)")
    parser.add_argument("--aws-port", type=int, default=4566, help="port of the embedded AWS (default 4566)")
    parser.add_argument(
        "--count-calls",
        action="store_true",
        help="count DynamoDB calls by operation; SIGUSR1 prints them (and peak memory) as JSON and resets (make bench)",
    )
    parser.add_argument(
        "--no-event-consumer",
        action="store_true",
        help="do not run deliver_webhooks (a benchmark times one Lambda function at a time, as in production)",
    )
    parser.add_argument(
        "--rotate-every",
        type=float,
        default=3600,
        metavar="SECONDS",
        help="run the rotate_tags schedule this often (default hourly, as in prod); SIGUSR2 runs it at once",
    )
    parser.add_argument(
        "--fault-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve the fault switches (SQS refusing, the relay dying or paused) on this port; see devstack/faults.py",
    )
    parser.add_argument(
        "--api-timeout",
        type=int,
        default=None,
        metavar="SECONDS",
        help="the API function's time limit (default: the stage's lambda_timeout, 29 s as on API Gateway)",
    )
    return parser.parse_args(argv)


def _start_embedded_aws(host: str, port: int) -> Any:
    from moto.server import ThreadedMotoServer

    from devstack import moto_patches

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call drowns the output
    moto_patches.install()  # atomic writes, partition Queries, fast item reads (devstack/moto_patches.py)

    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    return server


def _configure_environment(aws_endpoint: str | None, api_url: str) -> None:
    os.environ.update(stage_environment(STAGE))
    os.environ.setdefault("PUBLIC_API_URL", api_url)  # links in confirmation e-mails
    if aws_endpoint:
        os.environ["AWS_ENDPOINT_URL"] = aws_endpoint
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "devstack")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "devstack")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])


def _bootstrap_demo_tenant() -> dict[str, Any]:
    """The demo tenant, its key, and a newsletter group for the widget's demo page."""
    from chalicelib.schemas.groups import GroupCreate
    from chalicelib.services.auth import Principal, create_tenant
    from chalicelib.services.groups import create_group

    tenant = create_tenant("Demo")
    principal = Principal(tenant.tenantId, "devstack", frozenset(tenant.scopes))
    group = create_group(principal, GroupCreate(name="Newsletter"))
    return {**tenant.model_dump(), "groupId": group.id}


def _publish_widget(api_url: str, aws_url: str, group_id: str) -> dict[str, str]:
    import boto3

    from chalicelib.settings import settings
    from devstack.widget import publish

    published = publish(boto3.client("s3"), settings.widget_bucket, api_url, demo_group_id=group_id)
    base = f"{aws_url}/{settings.widget_bucket}/"
    return {"widget": base + published.stable_key, "demo": base + (published.demo_key or "")}


def _serve_api(host: str, port: int, api_timeout: int | None = None) -> Any:
    from chalice.cli.factory import CLIFactory
    from chalice.local import CustomLocalChalice, LocalChalice, LocalDevServer

    from devstack.gateway import GatewayHTTPServer, GatewayRequestHandler

    factory = CLIFactory(project_dir=str(ROOT))
    overrides = {"lambda_timeout": api_timeout} if api_timeout else None
    config = factory.create_config_obj(chalice_stage_name=STAGE, user_provided_params=overrides)
    app = config.chalice_app
    # As `chalice local` does: a thread-local current_request for the threaded server.
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    server = LocalDevServer(app, config, host, port, handler_cls=GatewayRequestHandler, server_cls=GatewayHTTPServer)
    thread = threading.Thread(target=server.serve_forever, name="api", daemon=True)
    thread.start()
    return server


def _start_workers(event_consumer: bool = True) -> list[Any]:
    """The SQS-triggered handlers, fed by pollers (Chalice's local server runs only HTTP routes)."""
    import boto3

    import app as app_module
    from chalicelib.settings import settings
    from devstack.calls import IMPORTS
    from devstack.workers import SqsPoller

    workers = []
    if event_consumer:
        deliver = SqsPoller(
            boto3.client("sqs"), settings.events_queue, app_module.deliver_webhooks, function_name="deliver_webhooks"
        )
        workers.append(deliver.start())
    # Imports: file arrivals (the bucket's notifications), chunks and downloads, one message per call as in prod.
    import_worker = SqsPoller(
        boto3.client("sqs"),
        settings.imports_queue,
        app_module.import_worker,
        function_name="import_worker",
        batch_size=1,
        timeout_seconds=900,
        role=IMPORTS,
    )
    return [*workers, import_worker.start()]


def _start_relay(embedded_aws: bool, paused: threading.Event | None) -> Any:
    """The contacts table's stream, pumped into the relay with Lambda's event shape (moto cannot invoke Lambda)."""
    import boto3

    import app as app_module
    from chalicelib.settings import settings
    from devstack.streams import EmbeddedStreamReader, StreamPump, StreamReader

    reader: StreamReader | EmbeddedStreamReader
    if embedded_aws:
        reader = EmbeddedStreamReader(boto3.client("dynamodb"), settings.contacts_table)
    else:
        reader = StreamReader(boto3.client("dynamodb"), boto3.client("dynamodbstreams"), settings.contacts_table)
    pump = StreamPump(
        reader,
        app_module.relay_contact_changes,
        function_name="relay_contact_changes",
        region=settings.region,
        paused=paused,
    )
    return pump.start()


def _start_schedule(every_seconds: float) -> Any:
    """The scheduled handler on a timer, called with EventBridge's event shape; SIGUSR2 runs it now."""
    import app as app_module
    from chalicelib.settings import settings
    from devstack.workers import ScheduleTimer

    timer = ScheduleTimer(
        app_module.rotate_tags, function_name="rotate_tags", every_seconds=every_seconds, region=settings.region
    )
    signal.signal(signal.SIGUSR2, timer.trigger)
    return timer.start()


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    external = os.environ.get("AWS_ENDPOINT_URL") is not None or os.environ.get("DEVSTACK_REAL_AWS") == "1"
    moto_server = None
    endpoint = None
    if not external:
        moto_server = _start_embedded_aws(args.host, args.aws_port)
        endpoint = f"http://{args.host}:{args.aws_port}"
    api_url = f"http://{args.host}:{args.port}"
    _configure_environment(endpoint, api_url)
    create_all()
    tenant = _bootstrap_demo_tenant()
    urls = _publish_widget(api_url, endpoint or os.environ["AWS_ENDPOINT_URL"], tenant["groupId"])
    if args.count_calls:
        from devstack.calls import CallCounter

        counter = CallCounter()
        counter.install()
        signal.signal(signal.SIGUSR1, counter.print_report)
    faults_url = None
    relay_paused = None
    if args.fault_port is not None:
        from devstack.faults import Faults

        faults = Faults()
        faults.install()
        faults.serve(args.host, args.fault_port)
        faults_url = f"http://{args.host}:{args.fault_port}/faults"
        relay_paused = faults.relay_paused
    api_server = _serve_api(args.host, args.port, args.api_timeout)
    workers = [
        _start_relay(embedded_aws=moto_server is not None, paused=relay_paused),
        *_start_workers(event_consumer=not args.no_event_consumer),
    ]
    if moto_server is not None:
        from devstack.mailbox import MailWatcher

        workers.append(MailWatcher(os.environ["AWS_DEFAULT_REGION"]).start())
    workers.append(_start_schedule(args.rotate_every))
    ready = {
        "ready": True,
        "api": api_url,
        "aws": endpoint or os.environ.get("AWS_ENDPOINT_URL"),
        "tenantId": tenant["tenantId"],
        "apiKey": tenant["apiKey"],
        "groupId": tenant["groupId"],
        **urls,
        **({"faults": faults_url} if faults_url else {}),
    }
    print(f"Contacts API on {ready['api']}  (embedded AWS on {ready['aws']})", flush=True)
    print(f"Demo tenant {tenant['tenantId']}, API key: {tenant['apiKey']}", flush=True)
    print(f"Widget: {urls['widget']}  (group {tenant['groupId']})", flush=True)
    print(f"Demo page: {urls['demo']}", flush=True)
    print(json.dumps(ready), flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # Wake up now and then: signal handlers (SIGUSR1 reports, SIGUSR2 rotations) run on this thread.
    while not stop.wait(0.5):
        pass
    for worker in workers:
        worker.stop()
    api_server.shutdown()
    if moto_server is not None:
        moto_server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
