"""A delivery worker process for the exactly-once test (test_exactly_once.py).

    python -m publikum.journeys.tests.delivery_worker --lease 2 --batch 20

Runs the real delivery (`messages_deliver`) against the database of DATABASE_URL and the
SMTP server of EMAIL_URL until no message is queued or being sent any more, waiting for
the leases of killed workers to run out on the way (the reaper in each run puts their
claims back). The test kills it with SIGKILL at random moments and starts it again.

Prints one JSON line at the end: how many mails this process sent and the seconds it spent
in runs that sent something (for the rough send rate in the report).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lease", type=float, default=2.0, help="claim lease in seconds")
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--ready", default="", help="file to create once set up")
    parser.add_argument("--go", default="", help="file to wait for before sending")
    args = parser.parse_args()
    # The test asks a stuck worker where it stands before it kills it.
    faulthandler.register(signal.SIGUSR1)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "publikum.settings")
    import django

    django.setup()
    from django.db import connection
    from django.urls import reverse

    from publikum.journeys.delivery import messages_deliver
    from publikum.journeys.models import Message, MessageStatus

    connection.ensure_connection()
    # Warm up what the first mail would otherwise pay for (the URL resolver is built on its
    # first use), so that the rate printed at the end is the rate of sending.
    reverse("healthz")
    if args.ready:
        Path(args.ready).touch()
    deadline = time.monotonic() + args.timeout
    if args.go:
        while not Path(args.go).exists():
            if time.monotonic() > deadline:
                return 2
            time.sleep(0.001)
    sent = 0
    busy = 0.0
    lease = timedelta(seconds=args.lease)
    pending = [MessageStatus.QUEUED, MessageStatus.SENDING]
    while Message.objects.filter(status__in=pending).exists():
        if time.monotonic() > deadline:
            sys.stderr.write("delivery worker: timed out\n")
            return 3
        started = time.monotonic()
        report = messages_deliver(batch_size=args.batch, lease=lease)
        if report.sent:
            sent += report.sent
            busy += time.monotonic() - started
        else:
            time.sleep(0.05)  # a dead worker's claim: wait for its lease to run out
    sys.stdout.write(json.dumps({"sent": sent, "seconds": busy}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
