"""`python -m bench <benchmark> [options]`: run a benchmark, print its figures, write its report."""

from __future__ import annotations

import importlib
import sys

USAGE = """usage: python -m bench <benchmark> [options]

Benchmarks:
  assistant [--db sqlite|postgres|both] [--conversations 50] [--rounds 2] [--skip-dates]
      accuracy on the development set (with the threshold calibration), latency of 50
      concurrent conversations over HTTP, dates against dateparser and ctparse;
      writes docs/benchmarks/assistant.md
  audience [--db sqlite|postgres] [--contacts N] [--interactions N] [--keep]
      contacts, segments, lifecycle, CSV import and the contact list at scale;
      writes docs/benchmarks/audience.md (python -m bench audience --help for details)
  bookings [--processes 4] [--clients 500] [--capacity 300] [--dates 50] [--rounds 3]
      simultaneous bookings of one date through several web processes on PostgreSQL,
      against an uncontended baseline; writes docs/benchmarks/bookings.md
  discovery [--movielens PATH] [--visitors 20000] [--contacts 100000] [--upcoming 300]
            [--skip-accuracy] [--skip-speed] [--skip-lists]
            [--lists-db postgres|sqlite] [--lists-contacts N]
      recommender accuracy on MovieLens 100K (from the recbole wheel) and a synthetic house,
      the horizon dial (for all test users and for those with a history), top 10 for
      100,000 contacts, the worker's precomputed lists in a real database;
      writes docs/benchmarks/discovery.md (python -m bench discovery --help for details)
  journeys [--contacts 100000] [--rounds 2:100,1:30] [--triggers 100] [--waiting 1000000]
           [--skip-newsletter] [--skip-triggers] [--skip-profile] [--skip-tick] [--quick]
      a personalised newsletter through `publikum worker` into a counting SMTP sink,
      trigger-to-first-mail latency, the advance pass with a million waiting runs;
      writes docs/benchmarks/journeys.md (python -m bench journeys --help for details)
  programme-pages [--db sqlite|postgres|both] [--items 500] [--requests 200]
      the public programme list, an item page and the .ics feed through a real HTTP
      server; writes docs/benchmarks/programme.md

Other tools in bench/ (not benchmarks):
  bench/screenshots.py   screenshot of the dashboard for the docs
"""


# Benchmark name → module with `main(argv) -> int`.
BENCHMARKS = {
    "assistant": "bench.assistant",
    "audience": "bench.audience",
    "bookings": "bench.bookings",
    "discovery": "bench.discovery",
    "journeys": "bench.journeys",
    "programme-pages": "bench.programme_pages",
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        sys.stdout.write(USAGE)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in BENCHMARKS:
        sys.stderr.write(f"unknown benchmark {name!r}\n\n{USAGE}")
        return 2
    module = importlib.import_module(BENCHMARKS[name])
    return int(module.main(rest))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
