"""Smoke test of `python -m bench journeys`: the benchmark still runs end to end.

At a tiny size (`--quick`: 200 contacts, a handful of confirmations, a few hundred waiting
runs) it does everything the full run does: a fresh database, `publikum worker` processes
sending a newsletter into the counting SMTP sink, subscriptions confirmed through the
audience service, the advance pass, the report. What is checked is what the report states
as exact, never a speed: every mail the database calls sent reached the sink once, every
confirmation led to its welcome mail, the pass moved exactly the due runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_quick(tmp_path: Path, *options: str) -> tuple[dict[str, Any], str]:
    report, raw = tmp_path / "journeys.md", tmp_path / "journeys-results.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "journeys",
            "--quick",
            f"--report={report}",
            f"--raw={raw}",
            *options,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return json.loads(raw.read_text()), report.read_text()


def assert_exact(result: dict[str, Any], report: str) -> None:
    rounds = result["rounds"]
    assert [r["label"] for r in rounds] == ["baseline", "100%-1w"]
    for r in rounds:
        sent = r["db"]["by_status"]["sent"]
        assert sent > 0
        assert r["received"] == sent
        assert r["keys_twice"] == 0
        assert r["db"]["by_status"].get("queued", 0) == 0
    full = rounds[-1]
    # The guardrails held back the contacts without consent, unsubscribed, bounced, ...
    assert full["db"]["by_status"]["suppressed"] == sum(full["db"]["reasons"].values()) > 0
    assert set(full["db"]["reasons"]) <= {
        "no_consent", "unsubscribed", "bounced", "complained", "paused",
    }  # fmt: skip
    triggers = result["triggers"]
    assert triggers["received"] == triggers["count"] == 5
    assert triggers["confirmation_mails"] == 5
    tick = result["tick"]
    assert sum(tick["full_due"]["processed"]) == tick["due"]
    assert sum(tick["full_idle"]["processed"]) == 0
    assert result["profile"]["plain"]["sent"] > 0
    assert "## Targets" in report
    assert "| Exactly once (100%-1w): sink count = sent in the database, no key twice" in report


def test_quick_run_on_sqlite(tmp_path: Path) -> None:
    result, report = run_quick(tmp_path, "--db=sqlite")
    assert_exact(result, report)
    assert result["info"]["vendor"] == "sqlite"


@pytest.mark.postgres
def test_quick_run_on_postgresql(tmp_path: Path) -> None:
    result, report = run_quick(tmp_path, "--db=postgres", "--pg-database=test_bench_journeys")
    assert_exact(result, report)
    assert result["info"]["vendor"] == "postgresql"
    assert result["tick"]["full_idle"]["index_used"]
