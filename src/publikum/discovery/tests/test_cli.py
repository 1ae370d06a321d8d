"""`publikum discovery evaluate` as a house would run it: a real process on real CSV files."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

THEMES = ("musik", "literatur", "stadtgeschichte", "kinder-familie", "fotografie")
KINDS = {
    "musik": "concert",
    "literatur": "talk",
    "stadtgeschichte": "tour",
    "kinder-familie": "workshop",
    "fotografie": "tour",
}
START = datetime(2025, 1, 4, 18, 0, tzinfo=UTC)


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A small house: 40 dates over 20 weeks, 30 visitors with one or two favourite themes."""
    items = []
    for n in range(40):
        theme = THEMES[n % len(THEMES)]
        starts = START + timedelta(days=3 * n)
        items.append(
            [
                f"d{n}",
                f"{theme.title()} Nr. {n}",
                theme if n % 3 else f"{theme}|{THEMES[(n + 1) % len(THEMES)]}",
                KINDS[theme],
                starts.isoformat(),
                f"Ein Abend über {theme} im Großen Saal",
            ]
        )
    visits = []
    for person in range(30):
        favourites = {THEMES[person % 5], THEMES[(person * 2) % 5]}
        for n, row in enumerate(items):
            if row[2].split("|")[0] in favourites and (n + person) % 3:
                moment = START + timedelta(days=3 * n, hours=1)
                visits.append([f"c{person}", row[0], moment.isoformat(), 1])
    items_path = _write(
        tmp_path / "items.csv",
        ["item_id", "title", "themes", "kind", "starts_at", "description"],
        items,
    )
    interactions_path = _write(
        tmp_path / "interactions.csv", ["user_id", "item_id", "timestamp", "weight"], visits
    )
    return interactions_path, items_path


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "publikum.settings"}
    return subprocess.run(
        [sys.executable, "-m", "publikum.cli", "discovery", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_evaluate_reports_every_method_and_horizon_as_json(files):
    interactions, items = files
    done = run(
        "evaluate", "--interactions", interactions, "--items", items, "--k", "5",
        "--horizon", "0,0.5", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["split"] == "item-cold-start"
    assert report["k"] == 5
    # The newest 20 % of the 40 dates are ranked: 8 candidates.
    assert report["data"]["candidates"] == 8
    methods = [(r["method"], r["horizon"]) for r in report["results"]]
    assert methods == [
        ("publikum", 0.0),
        ("publikum", 0.5),
        ("popularity", None),
        ("content", None),
    ]
    for row in report["results"]:
        for metric in ("ndcg", "recall", "coverage", "diversity", "serendipity"):
            assert 0.0 <= row[metric] <= 1.0, (row["method"], metric)
        assert row["novelty"] >= 0.0
        assert row["calibration_kl"] >= 0.0
        assert row["fit_seconds"] >= 0.0
    publikum = report["results"][0]
    # People here go to their favourite themes: knowing them beats ranking by popularity.
    assert publikum["ndcg"] > report["results"][2]["ndcg"]


@pytest.mark.parametrize("split", ["temporal", "random"])
def test_other_splits_print_a_table(files, split):
    interactions, items = files
    done = run(
        "evaluate", "--interactions", interactions, "--items", items, "--split", split,
        "--horizon", "0.3",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"Split {split}, k = 10" in done.stdout
    assert "publikum h=0.3" in done.stdout
    assert "popularity" in done.stdout
    assert "content" in done.stdout


def _bad(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for text in expected:
        assert text in lines[0], lines[0]


def test_horizon_outside_zero_to_one(files):
    interactions, items = files
    done = run("evaluate", "--interactions", interactions, "--items", items, "--horizon", "0,1.5")
    _bad(done, "--horizon: 1.5 is outside 0..1")
    done = run("evaluate", "--interactions", interactions, "--items", items, "--horizon", "wide")
    _bad(done, "--horizon: 'wide' is not a number")


def test_k_below_one(files):
    interactions, items = files
    _bad(run("evaluate", "--interactions", interactions, "--items", items, "--k", "0"), "--k")


def test_missing_columns_are_named(files, tmp_path):
    interactions, _ = files
    items = _write(tmp_path / "no-themes.csv", ["item_id", "title"], [["d1", "Konzert"]])
    _bad(
        run("evaluate", "--interactions", interactions, "--items", items),
        "no-themes.csv: missing column themes (found: item_id, title)",
    )
    _, good_items = files
    visits = _write(tmp_path / "visits.csv", ["user_id", "item"], [["c1", "d1"]])
    _bad(
        run("evaluate", "--interactions", visits, "--items", good_items),
        "visits.csv: missing columns item_id, timestamp",
    )


def test_unknown_item_ids_name_the_row(files, tmp_path):
    interactions, items = files
    rows = interactions.read_text(encoding="utf-8").splitlines()
    rows.insert(3, "c1,d999,2025-02-01T10:00:00+00:00,1")
    rows.append("c2,d998,2025-02-02T10:00:00+00:00,1")
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join(rows) + "\n", encoding="utf-8")
    _bad(
        run("evaluate", "--interactions", broken, "--items", items),
        "broken.csv, row 4, column item_id: unknown item 'd999'",
        "items.csv",
        "and 1 more rows",
    )


def test_empty_files_and_header_only(files, tmp_path):
    interactions, items = files
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    _bad(run("evaluate", "--interactions", interactions, "--items", empty), "empty.csv")
    header = tmp_path / "header.csv"
    header.write_text("user_id,item_id,timestamp\n", encoding="utf-8")
    _bad(
        run("evaluate", "--interactions", header, "--items", items),
        "header.csv: a header but no rows",
    )


def test_wrong_encoding_names_the_line(files, tmp_path):
    interactions, _ = files
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(
        "item_id,title,themes\nd1,Konzert,musik\nd2,Führung,stadtgeschichte\n".encode("latin-1")
    )
    _bad(
        run("evaluate", "--interactions", interactions, "--items", latin),
        "latin1.csv, row 3: not UTF-8 text (byte 0xFC)",
    )


def test_bad_values_name_row_and_column(files, tmp_path):
    interactions, items = files
    rows = interactions.read_text(encoding="utf-8").splitlines()
    rows[5] = "c1,d1,last tuesday,1"
    stamps = tmp_path / "stamps.csv"
    stamps.write_text("\n".join(rows) + "\n", encoding="utf-8")
    _bad(
        run("evaluate", "--interactions", stamps, "--items", items),
        "stamps.csv, row 6, column timestamp: 'last tuesday' is not a date",
    )
    rows = interactions.read_text(encoding="utf-8").splitlines()
    rows[2] = "c1,d1"
    short = tmp_path / "short.csv"
    short.write_text("\n".join(rows) + "\n", encoding="utf-8")
    _bad(
        run("evaluate", "--interactions", short, "--items", items),
        "short.csv, row 3: 2 fields where the header has 4",
    )
    rows = interactions.read_text(encoding="utf-8").splitlines()
    rows[2] = rows[2].rsplit(",", 1)[0] + ",-3"
    weights = tmp_path / "weights.csv"
    weights.write_text("\n".join(rows) + "\n", encoding="utf-8")
    _bad(
        run("evaluate", "--interactions", weights, "--items", items),
        "weights.csv, row 3, column weight: '-3' is not a number >= 0",
    )


def test_duplicate_item_and_missing_file(files, tmp_path):
    interactions, items = files
    twice = tmp_path / "twice.csv"
    twice.write_text("item_id,title,themes\nd1,A,musik\nd1,B,musik\n", encoding="utf-8")
    _bad(
        run("evaluate", "--interactions", interactions, "--items", twice),
        "twice.csv, row 3, column item_id: 'd1' appears twice",
    )
    _bad(
        run("evaluate", "--interactions", tmp_path / "nowhere.csv", "--items", items),
        "nowhere.csv: no such file",
    )


def test_too_little_data_is_explained(tmp_path):
    items = _write(
        tmp_path / "items.csv", ["item_id", "title", "themes"], [["d1", "Konzert", "musik"]]
    )
    visits = _write(
        tmp_path / "visits.csv", ["user_id", "item_id", "timestamp"], [["c1", "d1", "1700000000"]]
    )
    _bad(run("evaluate", "--interactions", visits, "--items", items), "The split leaves no")
