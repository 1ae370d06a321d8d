"""`publikum serve`: web server, worker and mail sink in one process tree, stopped by Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests

from conftest import free_port
from publikum.core.mailsink import ORG_HEADER
from publikum.core.tests.test_cli import ORG, ok, publikum, shell, subprocess_env

START_TIMEOUT = 60
STOP_TIMEOUT = 30


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("publikum-serve-template")
    ok(publikum("migrate", "-v", "0", data_dir=path))
    ok(publikum("org", "create", ORG, "--name", "Stadtmuseum Beispielstadt", data_dir=path))
    return path


@pytest.fixture
def data_dir(tmp_path: Path, template_dir: Path) -> Path:
    for file in template_dir.glob("publikum.sqlite3*"):
        shutil.copy(file, tmp_path / file.name)
    return tmp_path


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


@pytest.fixture
def serve(data_dir: Path) -> Iterator[dict[str, object]]:
    http_port, sink_port = free_port(), free_port()
    log = (data_dir / "serve.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "publikum.cli", "serve",
            "--host", "127.0.0.1", "--port", str(http_port), "--smtp-sink",
        ],
        env=subprocess_env(data_dir, {"PUBLIKUM_SMTP_SINK_PORT": str(sink_port)}),
        cwd=data_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_default_sigint,  # noqa: PLW1509
    )  # fmt: skip
    info = {"process": process, "http_port": http_port, "sink_port": sink_port, "dir": data_dir}
    try:
        yield info
    finally:
        for pid in children_of(process.pid):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def wait_until_healthy(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"/healthz did not answer 200 within {START_TIMEOUT} s:\n{log.read_text()}")


def test_serve_runs_web_worker_and_mail_sink_and_stops_cleanly_on_ctrl_c(serve):
    process, http_port, data_dir = serve["process"], serve["http_port"], serve["dir"]
    log = data_dir / "serve.log"
    wait_until_healthy(process, http_port, log)

    message = EmailMessage()
    message["From"] = "noreply@example.org"
    message["To"] = "ada@example.org"
    message["Subject"] = "Ihre Karten"
    message[ORG_HEADER] = ORG
    message.set_content("Bis bald im Museum.")
    with smtplib.SMTP("127.0.0.1", serve["sink_port"], timeout=10) as smtp:
        smtp.send_message(message)

    workers = [pid for pid, cmd in children_of(process.pid).items() if " worker" in cmd]
    assert len(workers) == 1, children_of(process.pid)

    seen = shell(
        "import time\n"
        "from publikum.core.models import ReceivedMail\n"
        "from publikum.core.tasks import prune_outbox\n"
        "from django_tasks_db.models import DBTaskResult\n"
        "mails = [[m.organisation.slug if m.organisation else None, m.subject, m.recipients]\n"
        "         for m in ReceivedMail.objects.all()]\n"
        # The worker's first tick enqueues the periodic jobs; give it a bounded moment.
        f"deadline = time.monotonic() + {START_TIMEOUT}\n"
        "pruning = DBTaskResult.objects.filter(task_path=prune_outbox.module_path)\n"
        "while not pruning.exists() and time.monotonic() < deadline:\n"
        "    time.sleep(0.2)\n"
        "result = {'mails': mails, 'pruning': pruning.count()}",
        data_dir,
    )
    assert seen["mails"] == [[ORG, "Ihre Karten", ["ada@example.org"]]]  # type: ignore[index]
    assert seen["pruning"] == 1  # type: ignore[index]

    process.send_signal(signal.SIGINT)
    try:
        code = process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve did not stop within {STOP_TIMEOUT} s of Ctrl-C:\n{log.read_text()}")

    assert code == 0, log.read_text()
    assert "Stopped." in log.read_text()
    assert not alive(workers[0]), "the worker outlived serve"
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
            env={"PUBLIKUM_SMTP_SINK_PORT": str(sink_port)},
            timeout=STOP_TIMEOUT,
        )  # fmt: skip

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    if busy == "web":
        assert f"Cannot listen on 127.0.0.1:{busy_port}" in result.stderr
    else:
        assert f"The mail sink cannot listen on 127.0.0.1:{busy_port}" in result.stderr
