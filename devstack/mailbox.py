"""Show the e-mails the embedded SES accepted: one JSON line each on the stack's output.

moto keeps sent messages in memory and never delivers them; with the stack's
moto server in this process, a watcher reads them there, so that `make dev`
prints double opt-in links in the terminal and tests can follow them.
"""

from __future__ import annotations

import json
import threading
from typing import Any


class MailWatcher:
    def __init__(self, region: str, interval: float = 0.2) -> None:
        self.region = region
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mailbox", daemon=True)

    def start(self) -> MailWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _outbox(self) -> list[Any]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        return list(ses_backends[DEFAULT_ACCOUNT_ID][self.region].sent_messages)

    def _run(self) -> None:
        shown = 0
        while not self._stop.wait(self.interval):
            messages = self._outbox()
            for message in messages[shown:]:
                mail = {
                    "to": message.destinations.get("ToAddresses", []),
                    "from": message.source,
                    "subject": message.subject,
                    "body": message.body,
                }
                print(json.dumps({"mail": mail}), flush=True)
            shown = len(messages)
