"""`publikum serve`: web server, worker and mail sink in one process tree, stopped by Ctrl-C."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests
from django_tasks_db.models import DBTaskResult

from conftest import free_port
from publikum.core.mailsink import ORG_HEADER
from publikum.core.tests.sample_jobs import wait_for_release
from publikum.core.tests.test_cli import ORG, instance_copy, publikum, shell, subprocess_env

START_TIMEOUT = 60
STOP_TIMEOUT = 30


@pytest.fixture
def data_dir(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return instance_copy(tmp_path, tmp_path_factory)


def children_of(pid: int) -> dict[int, str]:
    """Child processes of `pid` with their command lines (Linux /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == pid:
            found[int(stat.parent.name)] = cmdline
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _default_sigint() -> None:
    # A shell that started the test run in the background may have left SIGINT ignored,
    # and children inherit that; serve must see Ctrl-C as a user's terminal would send it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def running_serve(data_dir: Path, http_port: int, sink_port: int) -> Iterator[subprocess.Popen]:
    """`publikum serve` in a session of its own, as if started in a terminal."""
    log = (data_dir / "serve.log").open("w", encoding="utf-8")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "publikum.cli", "serve",
            "--host", "127.0.0.1", "--port", str(http_port), "--smtp-sink",
        ],
        env=subprocess_env(
            data_dir, {"PUBLIKUM_SMTP_SINK_PORT": str(sink_port), "PYTHONUNBUFFERED": "1"}
        ),
        cwd=data_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_default_sigint,  # noqa: PLW1509
    )  # fmt: skip
    try:
        yield process
    finally:
        for pid in children_of(process.pid):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def text_of(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")


def wait_until_healthy(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}:\n{text_of(log)}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"/healthz did not answer 200 within {START_TIMEOUT} s:\n{text_of(log)}")


def wait_for_log(log: Path, text: str) -> None:
    deadline = time.monotonic() + STOP_TIMEOUT
    while text not in text_of(log):
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} did not appear in the log:\n{text_of(log)}")
        time.sleep(0.05)


def task_statuses(data_dir: Path, task: object) -> list[str]:
    with closing(sqlite3.connect(data_dir / "publikum.sqlite3")) as db:
        sql = f"SELECT status FROM {DBTaskResult._meta.db_table} WHERE task_path = ?"  # noqa: S608
        return [row[0] for row in db.execute(sql, [task.module_path])]  # type: ignore[attr-defined]


def test_serve_runs_web_worker_and_mail_sink_and_stops_cleanly_on_ctrl_c(data_dir):
    http_port, sink_port = free_port(), free_port()
    log = data_dir / "serve.log"
    release = data_dir / "release"
    # A job that is still running when Ctrl-C comes: it must be allowed to finish.
    shell(
        "from publikum.core.tests.sample_jobs import wait_for_release\n"
        f"wait_for_release.enqueue(key='long-job', release={str(release)!r})\n"
        "result = None",
        data_dir,
    )

    with running_serve(data_dir, http_port, sink_port) as process:
        wait_until_healthy(process, http_port, log)

        message = EmailMessage()
        message["From"] = "noreply@example.org"
        message["To"] = "ada@example.org"
        message["Subject"] = "Ihre Karten"
        message[ORG_HEADER] = ORG
        message.set_content("Bis bald im Museum.")
        with smtplib.SMTP("127.0.0.1", sink_port, timeout=10) as smtp:
            smtp.send_message(message)

        workers = [pid for pid, cmd in children_of(process.pid).items() if " worker" in cmd]
        assert len(workers) == 1, children_of(process.pid)

        seen = shell(
            "import time\n"
            "from django_tasks_db.models import DBTaskResult\n"
            "from publikum.core.models import ReceivedMail\n"
            "from publikum.core.tasks import prune_outbox\n"
            "from publikum.core.tests.sample_jobs import wait_for_release\n"
            "mails = [[m.organisation.slug if m.organisation else None, m.subject, m.recipients]\n"
            "         for m in ReceivedMail.objects.all()]\n"
            # The worker's first tick enqueues the periodic jobs and it picks up the long
            # job; give both a bounded moment.
            f"deadline = time.monotonic() + {START_TIMEOUT}\n"
            "pruning = DBTaskResult.objects.filter(task_path=prune_outbox.module_path)\n"
            "long = DBTaskResult.objects.filter(\n"
            "    task_path=wait_for_release.module_path, status='RUNNING')\n"
            "while not (pruning.exists() and long.exists()) and time.monotonic() < deadline:\n"
            "    time.sleep(0.1)\n"
            "result = {'mails': mails, 'pruning': pruning.count(), 'long': long.count()}",
            data_dir,
        )
        assert seen == {
            "mails": [[ORG, "Ihre Karten", ["ada@example.org"]]],
            "pruning": 1,
            "long": 1,
        }

        # Ctrl-C in the terminal: SIGINT to the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        wait_for_log(log, "Stopping…")
        # Serve now passes the stop on to its worker; give that a moment, so that a worker
        # which aborts its running job on a second SIGINT would do so before the release.
        time.sleep(0.5)
        release.touch()
        try:
            code = process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"serve did not stop within {STOP_TIMEOUT} s of Ctrl-C:\n{text_of(log)}")

    assert code == 0, text_of(log)
    assert "Stopped." in text_of(log)
    assert not alive(workers[0]), "the worker outlived serve"
    assert task_statuses(data_dir, wait_for_release) == ["SUCCESSFUL"], text_of(log)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{http_port}/healthz", timeout=2)


@pytest.mark.parametrize("busy", ["web", "sink"])
def test_serve_refuses_a_port_that_is_in_use(data_dir, busy):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy_port = taken.getsockname()[1]
        web_port = busy_port if busy == "web" else free_port()
        sink_port = busy_port if busy == "sink" else free_port()

        result = publikum(
            "serve", "--host", "127.0.0.1", "--port", str(web_port), "--smtp-sink", "--no-worker",
            data_dir=data_dir,
            # aiosmtpd reports a failed bind only after its ready timeout (5 s by default).
            env={"PUBLIKUM_SMTP_SINK_PORT": str(sink_port), "AIOSMTPD_CONTROLLER_TIMEOUT": "1"},
            timeout=STOP_TIMEOUT,
        )  # fmt: skip

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    if busy == "web":
        assert f"Cannot listen on 127.0.0.1:{busy_port}" in result.stderr
    else:
        assert f"The mail sink cannot listen on 127.0.0.1:{busy_port}" in result.stderr
