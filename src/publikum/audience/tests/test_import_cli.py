"""`publikum import`, run as an operator runs it: a subprocess on its own SQLite file."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

ORG = "stadtmuseum"
FIXTURES = Path(__file__).parent / "fixtures"
FOREIGN_ENV = ("DATABASE_URL", "REDIS_URL", "PUBLIKUM_TASK_QUEUE", "EMAIL_URL", "PUBLIKUM_MODE")


def publikum(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env |= {"DJANGO_SETTINGS_MODULE": "publikum.settings", "PUBLIKUM_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "publikum.cli", *args],
        env=env,
        cwd=data_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def rows(data_dir: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(data_dir / "publikum.sqlite3")) as db:
        return list(db.execute(sql))


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("publikum-import")
    ok(publikum("migrate", "-v", "0", data_dir=path))
    ok(publikum("org", "create", ORG, "--name", "Stadtmuseum", data_dir=path))
    return path


@pytest.fixture
def data_dir(tmp_path: Path, template_dir: Path) -> Path:
    for file in template_dir.glob("publikum.sqlite3*"):
        shutil.copy(file, tmp_path / file.name)
    return tmp_path


def test_import_contacts_prints_the_report_and_keeps_the_valid_rows(data_dir) -> None:
    result = ok(
        publikum(
            "import", "contacts", str(FIXTURES / "eventim_kunden.csv"), "--org", ORG,
            "--map", "Ort=", "--map", "PLZ=postcode", "--consent-source", "Kasse 2025",
            data_dir=data_dir,
        )
    )  # fmt: skip

    out = result.stdout
    assert "Encoding: Windows-1252; delimiter: semicolon" in out
    assert "Rows: 3; created: 2; updated: 0; rejected: 1" in out
    assert "Row 4: birthday: '31.02.1990' is not a valid date" in out
    people = "SELECT first_name, last_name, postcode FROM audience_contact ORDER BY last_name"
    assert rows(data_dir, people) == [("Jürgen", "Müller", "80331"), ("Özlem", "Schäfer", "20095")]
    assert rows(data_dir, "SELECT purpose, source, granted FROM audience_consent") == [
        ("newsletter", "Kasse 2025", 1)
    ]
    assert rows(data_dir, "SELECT status, rejected_count FROM audience_importrun") == [("done", 1)]


def test_import_without_a_consent_source_says_the_consent_was_ignored(data_dir) -> None:
    result = ok(
        publikum(
            "import", "contacts", str(FIXTURES / "eventim_kunden.csv"), "--org", ORG,
            "--preset", "eventim", "--json", data_dir=data_dir,
        )
    )  # fmt: skip

    report = json.loads(result.stdout)
    assert report["created"] == 2
    assert report["rejected"] == [
        {"row": 4, "errors": ["birthday: '31.02.1990' is not a valid date"]}
    ]
    assert report["mapping"]["PLZ"] == "postcode"
    with translation.override(settings.LANGUAGE_CODE):  # commands speak the site's language
        ignored = gettext(
            "Consent columns were ignored because no consent source was given: %(columns)s."
        ) % {"columns": "Newsletter"}
    assert ignored in report["notes"]
    assert rows(data_dir, "SELECT COUNT(*) FROM audience_consent") == [(0,)]


def test_a_dry_run_reports_and_keeps_nothing(data_dir) -> None:
    result = ok(
        publikum(
            "import", "contacts", str(FIXTURES / "civicrm_contacts.csv"), "--org", ORG,
            "--preset", "civicrm", "--dry-run", data_dir=data_dir,
        )
    )  # fmt: skip

    assert "Dry run, nothing was saved" in result.stdout
    assert "created: 2" in result.stdout
    assert rows(data_dir, "SELECT COUNT(*) FROM audience_contact") == [(0,)]
    assert rows(data_dir, "SELECT COUNT(*) FROM audience_importrun") == [(0,)]


def test_import_interactions_with_the_pretix_preset(data_dir) -> None:
    orders = str(FIXTURES / "pretix_orders.csv")
    ok(publikum("import", "contacts", orders, "--org", ORG, "--preset", "pretix",
                "--map", "Event slug=", data_dir=data_dir))  # fmt: skip

    result = ok(
        publikum("import", "interactions", orders, "--org", ORG, "--preset", "pretix",
                 "--map", "Event slug=", data_dir=data_dir)
    )  # fmt: skip

    assert "created: 2; skipped (imported before): 0; rejected: 1" in result.stdout
    assert rows(
        data_dir, "SELECT kind, quantity, amount_eur FROM audience_interaction ORDER BY quantity"
    ) == [("booking", 1, 24), ("booking", 2, 48)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["contacts", "{csv}", "--org", "no-such-house"],
            "There is no organisation 'no-such-house'",
        ),
        (["contacts", "/nonexistent/kunden.csv", "--org", ORG], "There is no file"),
        (["contacts", "{binary}", "--org", ORG], "not a CSV text file"),
        (["contacts", "{pipes}", "--org", ORG], "The header has only one column"),
        (["contacts", "{unknown}", "--org", ORG], "no usable column"),
        (["contacts", "{csv}", "--org", ORG, "--map", "E-Mail"], "is not COLUMN=FIELD"),
    ],
)
def test_import_fails_with_a_clear_message(data_dir, args, message) -> None:
    files = {
        "csv": FIXTURES / "eventim_kunden.csv",
        "binary": data_dir / "binary.csv",
        "pipes": data_dir / "pipes.csv",
        "unknown": data_dir / "unknown.csv",
    }
    files["binary"].write_bytes(b"\x00\x01\x02\xff" * 100)
    files["pipes"].write_text("Vorname|Nachname\nAnna|Weiß\n")
    files["unknown"].write_text("Farbe;Größe\nblau;42\n")
    filled = [a.format(**{k: str(v) for k, v in files.items()}) for a in args]

    result = publikum("import", *filled, data_dir=data_dir)

    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert rows(data_dir, "SELECT COUNT(*) FROM audience_contact") == [(0,)]
