"""A counting SMTP sink for `python -m bench journeys`, in a process of its own.

    python -m bench.journeys_sink --port 2525 --status status.json --out received.json

Accepts every mail on loopback (aiosmtpd) and keeps, per mail, only what the benchmark
checks: the time it was received (wall clock, `time.time()`, comparable with the other
processes' clocks on the same machine), its recipients, its idempotency key
(`X-Publikum-Idempotency-Key`) and its size. Nothing is parsed beyond that header and
nothing is stored in a database, so that the sink takes as little of the machine's two
cores as possible from the workers it measures.

Every 0.25 s it rewrites `--status` (count, counts per key prefix, last receive time), which
the benchmark polls; on SIGTERM or SIGINT it writes every record to `--out` and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

KEY_HEADER = b"\nX-Publikum-Idempotency-Key:"


def header_value(raw: bytes, header: bytes = KEY_HEADER) -> str:
    """The value of a one-line header in the head of `raw` ("" when missing)."""
    head_end = raw.find(b"\r\n\r\n")
    head = raw if head_end < 0 else raw[:head_end]
    start = head.find(header)
    if start < 0:
        # Headers are case-insensitive; Django writes this one as given, so this is rare.
        start = head.lower().find(header.lower())
        if start < 0:
            return ""
    start += len(header)
    end = head.find(b"\n", start)
    return head[start : None if end < 0 else end].strip().decode("ascii", "replace")


class CountingHandler:
    """Records (time, recipients, key, size) per mail; answers 250 at once."""

    def __init__(self) -> None:
        self.records: list[tuple[float, list[str], str, int]] = []
        self.prefixes: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        received = time.time()
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "replace")
        key = header_value(raw)
        with self.lock:
            self.records.append((received, [str(r) for r in envelope.rcpt_tos], key, len(raw)))
            self.prefixes[key.split(":", 1)[0] if key else ""] += 1
        return "250 Message accepted"

    def status(self) -> dict[str, Any]:
        with self.lock:
            return {
                "count": len(self.records),
                "prefixes": dict(self.prefixes),
                "last": self.records[-1][0] if self.records else None,
            }


def _write_json(path: Path, data: Any) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.journeys_sink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--status", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    handler = CountingHandler()
    # One mail of a newsletter is 20 to 40 kB; the default limit (32 MiB) is far above.
    controller = Controller(handler, hostname=args.host, port=args.port, ready_timeout=30)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    _write_json(args.status, handler.status() | {"ready": True, "pid": os.getpid()})
    while not stop.wait(0.25):
        _write_json(args.status, handler.status() | {"ready": True, "pid": os.getpid()})
    controller.stop()
    with handler.lock:
        records = list(handler.records)
    _write_json(args.out, {"records": records})
    _write_json(args.status, handler.status() | {"ready": False, "done": True})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
