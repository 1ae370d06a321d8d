"""The `publikum` command line, run as an operator runs it: a subprocess on its own SQLite."""

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
from django.conf import settings as django_settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils import translation

from conftest import free_port
from publikum.core.models import Organisation, User, slug_validator

ORG = "stadtmuseum"
# Variables of the developer's or CI's shell that would point the CLI elsewhere.
FOREIGN_ENV = ("DATABASE_URL", "REDIS_URL", "PUBLIKUM_TASK_QUEUE", "EMAIL_URL", "PUBLIKUM_MODE")


def subprocess_env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI process: its own SQLite file in `data_dir`, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env |= {"DJANGO_SETTINGS_MODULE": "publikum.settings", "PUBLIKUM_DATA_DIR": str(data_dir)}
    return env | (extra or {})


def publikum(
    *args: str, data_dir: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "publikum.cli", *args],
        env=subprocess_env(data_dir, env),
        cwd=data_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def shell(code: str, data_dir: Path) -> object:
    """Run Python inside the instance; `code` assigns `result`, which comes back as JSON."""
    script = f"import json\n{code}\nprint(json.dumps(result))"
    out = ok(publikum("shell", "-v", "0", "-c", script, data_dir=data_dir)).stdout
    return json.loads(out.strip().splitlines()[-1])


def column(data_dir: Path, model: type[Model], name: str) -> list[object]:
    """One column of a table of the instance's database file, sorted; a quick look inside."""
    with closing(sqlite3.connect(data_dir / "publikum.sqlite3")) as db:
        sql = f"SELECT {name} FROM {model._meta.db_table} ORDER BY 1"  # noqa: S608
        return [row[0] for row in db.execute(sql)]


def in_site_language(message: object) -> str:
    # Management commands run in LANGUAGE_CODE, so validators speak that language.
    with translation.override(django_settings.LANGUAGE_CODE):
        return str(message)


_template: list[Path] = []


def instance_copy(target: Path, factory: pytest.TempPathFactory) -> Path:
    """A migrated instance with the organisation ORG in `target`.

    Migrating takes seconds, so it happens once per test run; each test gets a copy.
    """
    if not _template:
        path = factory.mktemp("publikum-template")
        ok(publikum("migrate", "-v", "0", data_dir=path))
        ok(publikum("org", "create", ORG, "--name", "Stadtmuseum Beispielstadt", data_dir=path))
        _template.append(path)
    for file in _template[0].glob("publikum.sqlite3*"):
        shutil.copy(file, target / file.name)
    return target


@pytest.fixture
def data_dir(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return instance_copy(tmp_path, tmp_path_factory)


COMMANDS = [
    "serve", "worker", "migrate", "demo", "org create", "user create", "token create", "check",
]  # fmt: skip


def test_help_lists_the_commands(tmp_path):
    for args in (["--help"], []):
        out = ok(publikum(*args, data_dir=tmp_path)).stdout
        for command in COMMANDS:
            assert f"\n  {command} " in out, command


def test_check_says_to_migrate_a_new_database_and_passes_once_migrated(
    tmp_path, smtp_server, settings
):
    mail = {"EMAIL_URL": f"smtp://{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"}

    before = publikum("check", data_dir=tmp_path, env=mail)
    assert before.returncode != 0
    assert "run `publikum migrate`" in before.stdout
    assert "1 problem(s) found" in before.stderr

    ok(publikum("migrate", data_dir=tmp_path))

    after = ok(publikum("check", data_dir=tmp_path, env=mail))
    assert "migrations applied" in after.stdout
    assert f"SMTP server {settings.EMAIL_HOST}:{settings.EMAIL_PORT} reachable" in after.stdout
    assert "All checks passed." in after.stdout


def test_check_with_an_unreachable_mail_server_says_what_to_do(data_dir):
    closed_port = free_port()

    check = publikum(
        "check", data_dir=data_dir, env={"EMAIL_URL": f"smtp://127.0.0.1:{closed_port}"}
    )

    assert check.returncode != 0
    assert f"SMTP server 127.0.0.1:{closed_port} unreachable" in check.stdout
    assert "Set EMAIL_URL" in check.stdout
    assert "1 problem(s) found" in check.stderr


def test_org_create_creates_the_organisation(data_dir):
    result = ok(
        publikum("org", "create", "theater", "--name", "Theater am Markt", data_dir=data_dir)
    )

    assert "Created organisation theater (Theater am Markt)." in result.stdout
    assert column(data_dir, Organisation, "slug") == [ORG, "theater"]
    assert "Theater am Markt" in column(data_dir, Organisation, "name")


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("Kein Slug!", slug_validator.message),
        ("api", "'api' is reserved"),
    ],
)
def test_org_create_rejects_a_bad_slug(data_dir, slug, message):
    result = publikum("org", "create", slug, "--name", "Kunsthalle", data_dir=data_dir)

    assert result.returncode != 0
    assert in_site_language(message) in result.stderr
    assert "Traceback" not in result.stderr
    assert column(data_dir, Organisation, "slug") == [ORG]


def test_org_create_rejects_a_taken_slug(data_dir):
    result = publikum("org", "create", ORG, "--name", "Another museum", data_dir=data_dir)

    assert result.returncode != 0
    assert f"An organisation with the slug '{ORG}' exists already." in result.stderr
    assert "Traceback" not in result.stderr
    assert column(data_dir, Organisation, "name") == ["Stadtmuseum Beispielstadt"]


def test_user_create_adds_a_member_with_the_role(data_dir):
    result = ok(
        publikum(
            "user", "create", "--email", "Ada@Example.org", "--password", "a-long-test-password",
            "--org", ORG, "--role", "editor", "--name", "Ada",
            data_dir=data_dir,
        )
    )  # fmt: skip

    assert f"Created user ada@example.org as editor of {ORG}." in result.stdout
    assert shell(
        "from publikum.core.models import User\n"
        "u = User.objects.get(email='ada@example.org')\n"
        "m = u.memberships.get()\n"
        "result = [m.organisation.slug, m.role, u.check_password('a-long-test-password')]",
        data_dir,
    ) == [ORG, "editor", True]


def weak_password_message() -> str:
    with translation.override(django_settings.LANGUAGE_CODE):
        try:
            validate_password("1234")
        except ValidationError as exc:
            return str(exc.messages[0])
    raise AssertionError("'1234' passed the password validators")


@pytest.mark.parametrize(
    ("email", "password", "org", "message"),
    [
        ("ada@example.org", "a-long-test-password", "no-such-house", "There is no organisation"),
        ("ada@example.org", "1234", ORG, "weak"),
        ("ada.example.org", "a-long-test-password", ORG, "is not a valid e-mail address"),
    ],
    ids=["unknown-org", "weak-password", "invalid-email"],
)
def test_user_create_explains_what_is_wrong_and_creates_nothing(
    data_dir, email, password, org, message
):
    result = publikum(
        "user", "create", "--email", email, "--password", password, "--org", org,
        data_dir=data_dir,
    )  # fmt: skip

    if message == "weak":
        message = weak_password_message()
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert column(data_dir, User, "email") == []


def test_token_create_prints_only_a_working_token(data_dir):
    result = ok(publikum("token", "create", "--org", ORG, "--role", "manager", data_dir=data_dir))

    lines = result.stdout.splitlines()
    assert len(lines) == 1
    token = lines[0]
    assert token.startswith("pk_")
    assert shell(
        "from publikum.core import services\n"
        f"t = services.token_authenticate({token!r})\n"
        f"wrong = services.token_authenticate({token[:-2] + 'xx'!r})\n"
        "result = [t.organisation.slug, t.role, wrong]",
        data_dir,
    ) == [ORG, "manager", None]


def test_token_create_rejects_an_unknown_role(data_dir):
    result = publikum("token", "create", "--org", ORG, "--role", "janitor", data_dir=data_dir)

    assert result.returncode == 2
    assert "invalid choice: 'janitor'" in result.stderr
    assert "pk_" not in result.stdout


def test_token_create_rejects_an_unknown_organisation(data_dir):
    result = publikum("token", "create", "--org", "no-such-house", data_dir=data_dir)

    assert result.returncode != 0
    assert "There is no organisation 'no-such-house'." in result.stderr
    assert "pk_" not in result.stdout


def test_demo_rejects_zero_contacts(data_dir):
    result = publikum("demo", "--contacts", "0", data_dir=data_dir)

    assert result.returncode != 0
    assert "--contacts must be between 1 and 2000000." in result.stderr
    assert column(data_dir, Organisation, "slug") == [ORG]
