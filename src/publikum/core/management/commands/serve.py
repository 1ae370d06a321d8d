"""`publikum serve`: web server, background worker and (optionally) the local mail sink."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run the whole system in one terminal: web server, worker, mail sink. Ctrl-C stops it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8, help="web server threads")
        parser.add_argument("--no-worker", action="store_true", help="do not start a worker")
        parser.add_argument(
            "--smtp-sink",
            action="store_true",
            help="start the local SMTP sink (mails appear in the Outbox)",
        )
        parser.add_argument(
            "--smtp-inbound",
            type=int,
            default=settings.PUBLIKUM_INBOUND_SMTP_PORT or None,
            metavar="PORT",
            help="receive inbox mail by SMTP on this port (PUBLIKUM_INBOUND_SMTP_PORT)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        import waitress  # type: ignore[import-untyped]

        from publikum.core.mailsink import start_sink
        from publikum.wsgi import application

        if not 0 < options["port"] < 65536:
            raise CommandError("--port must be between 1 and 65535.")
        sink = None
        if options["smtp_sink"]:
            try:
                sink = start_sink(settings.SMTP_SINK_HOST, settings.SMTP_SINK_PORT)
            except OSError as exc:
                raise CommandError(
                    f"The mail sink cannot listen on {settings.SMTP_SINK_HOST}:"
                    f"{settings.SMTP_SINK_PORT} ({exc}). Is another Publikum running?"
                ) from exc
            self.stdout.write(
                f"Mail sink on smtp://{settings.SMTP_SINK_HOST}:{settings.SMTP_SINK_PORT}"
            )
        inbound = self._start_inbound(options["smtp_inbound"], sink)
        try:
            server = waitress.create_server(
                application, host=options["host"], port=options["port"], threads=options["threads"]
            )
        except OSError as exc:
            for controller in filter(None, (sink, inbound)):
                controller.stop()
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {exc}"
            ) from exc
        worker = None
        if not options["no_worker"]:
            # A process group of its own: Ctrl-C in the terminal reaches serve alone, which
            # then asks the worker once to stop. A worker that got the terminal's SIGINT as
            # well would take ours as the second one and abort the job it is running.
            worker = subprocess.Popen(
                [sys.executable, "-m", "publikum.cli", "worker"], process_group=0
            )
        # SIGTERM (and a closed terminal's SIGHUP, which no longer reaches the worker) stop
        # as cleanly as Ctrl-C does.
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, _raise_keyboard_interrupt)
        # Explicitly too for SIGINT: a shell starting us in the background ignores it, and
        # Python then keeps it ignored.
        signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
        local = options["host"] in {"127.0.0.1", "0.0.0.0"}  # noqa: S104
        host = "localhost" if local else options["host"]
        self.stdout.write(
            self.style.SUCCESS(f"Publikum is running at http://{host}:{options['port']}/")
        )
        self.stdout.write("Press Ctrl-C to stop.")
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            self.stdout.write("Stopping…")
            server.close()
            if worker is not None:
                _stop_process(worker)
            for controller in filter(None, (sink, inbound)):
                threading.Thread(target=controller.stop, daemon=True).start()
            self.stdout.write("Stopped.")

    def _start_inbound(self, port: int | None, sink: Any) -> Any:
        """The inbox's SMTP receiver (docs/inbox.md), when a port is given."""
        if not port:
            return None
        from publikum.conversations.inbound_smtp import start_inbound

        host = settings.PUBLIKUM_INBOUND_SMTP_HOST
        if not 0 < port < 65536:
            if sink:
                sink.stop()
            raise CommandError("--smtp-inbound must be a port between 1 and 65535.")
        try:
            controller = start_inbound(host, port)
        except OSError as exc:
            if sink:
                sink.stop()
            raise CommandError(f"The inbox cannot receive mail on {host}:{port} ({exc}).") from exc
        self.stdout.write(
            f"Inbox receives mail on smtp://{host}:{port} for @{settings.PUBLIKUM_INBOUND_DOMAIN}"
        )
        return controller


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
