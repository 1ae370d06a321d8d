"""The report of `python -m bench journeys`: verdicts against the targets, console lines and
docs/benchmarks/journeys.md, from the results the run saved (var/bench/journeys-results.json)."""

from __future__ import annotations

import re
import statistics
from typing import Any

from bench.journeys import (
    CIVIMAIL_PER_HOUR,
    MEMORY_FACTOR,
    TARGET_RATE,
    TARGET_TRIGGER_P95,
    TICK_FACTOR,
    TICK_FLOOR,
)


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def _mib(value: float | None) -> str:
    return "–" if not value else f"{value:,.0f} MiB"


def _full_rounds(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in result.get("rounds", []) if r["label"] != "baseline"]


def _baseline(result: dict[str, Any]) -> dict[str, Any] | None:
    return next((r for r in result.get("rounds", []) if r["label"] == "baseline"), None)


def _peak(round_: dict[str, Any]) -> float:
    return max((m["peak"] or 0.0) for m in round_["memory"])


def verdicts(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the figure measured and whether it was met. `kind` "correct" marks
    the checks that must hold at any size (the smoke test's); "speed" the targets."""
    out: list[dict[str, Any]] = []
    base = _baseline(result)
    for r in result.get("rounds", []):
        out.append(
            {
                "kind": "correct",
                "name": f"Exactly once ({r['label']}): sink count = sent in the database, "
                "no key twice",
                "target": "equal, 0 twice",
                "figure": f"{r['received']:,} received / {r['db']['by_status'].get('sent', 0):,} "
                f"sent, {r['keys_twice']} twice",
                "met": r["exact"],
            }
        )
    for r in _full_rounds(result):
        out.append(
            {
                "kind": "speed",
                "name": f"Newsletter to {r['segment_contacts']:,} contacts, {r['workers']} "
                "worker process(es): messages/s, first queued → last received",
                "target": f"≥ {TARGET_RATE:.0f}/s",
                "figure": f"{r['rate']:,.0f}/s ({r['received']:,} in {r['wall']:,.1f} s)",
                "met": r["rate"] >= TARGET_RATE,
            }
        )
        if base is not None:
            ratio = _peak(r) / _peak(base) if _peak(base) else 0.0
            out.append(
                {
                    "kind": "speed",
                    "name": f"Memory bounded ({r['workers']} worker(s)): peak RSS per worker at "
                    f"{r['segment_contacts']:,} vs {base['segment_contacts']:,} contacts",
                    "target": f"≤ {MEMORY_FACTOR:.2f} × baseline",
                    "figure": f"{_mib(_peak(r))} vs {_mib(_peak(base))} ({ratio:.2f} ×)",
                    "met": ratio <= MEMORY_FACTOR,
                }
            )
    trig = result.get("triggers")
    if trig:
        lat = trig.get("latency")
        out.append(
            {
                "kind": "correct",
                "name": "Every confirmation led to its welcome mail",
                "target": f"{trig['count']} of {trig['count']}",
                "figure": f"{trig['received']} of {trig['count']}",
                "met": trig["received"] == trig["count"],
            }
        )
        out.append(
            {
                "kind": "speed",
                "name": "Trigger (subscription confirmed) → first mail at the sink, p95",
                "target": f"< {TARGET_TRIGGER_P95:.0f} s",
                "figure": f"{lat['p95']:.2f} s (median {lat['p50']:.2f} s, max {lat['max']:.2f} s)"
                if lat
                else "no mail",
                "met": bool(lat) and lat["p95"] < TARGET_TRIGGER_P95,
            }
        )
    tick = result.get("tick")
    if tick and "full_idle" in tick:
        full = tick["full_idle"]
        base_idle = tick.get("baseline_idle")
        allowed = max(TICK_FACTOR * base_idle["median"], TICK_FLOOR) if base_idle else TICK_FLOOR
        out.append(
            {
                "kind": "speed",
                "name": f"Advance pass with {full['waiting']:,} runs waiting, none due"
                + (f" (baseline {base_idle['waiting']:,} waiting)" if base_idle else ""),
                "target": f"≤ {TICK_FACTOR:.0f} × baseline or < {TICK_FLOOR * 1000:.0f} ms",
                "figure": f"{_ms(full['median'])}"
                + (f" vs {_ms(base_idle['median'])}" if base_idle else ""),
                "met": full["median"] <= allowed,
            }
        )
        due = tick["full_due"]
        base_due = tick.get("baseline_due")
        out.append(
            {
                "kind": "correct",
                "name": f"Advance pass with {due['waiting']:,} waiting moved exactly the "
                f"{due['expected_due']:,} due runs",
                "target": f"{due['expected_due']:,}",
                "figure": f"{sum(due['processed']):,}"
                + (f" (baseline {sum(base_due['processed']):,})" if base_due else ""),
                "met": sum(due["processed"]) == due["expected_due"]
                and (base_due is None or sum(base_due["processed"]) == base_due["expected_due"]),
            }
        )
        if tick["vendor"] == "postgresql":
            out.append(
                {
                    "kind": "speed",
                    "name": "The claim query of the pass uses the partial index journeyrun_due",
                    "target": "index scan",
                    "figure": "yes" if full.get("index_used") else "no",
                    "met": bool(full.get("index_used")),
                }
            )
    return out


def _verdict(met: bool | None) -> str:
    return "–" if met is None else ("yes" if met else "**no**")


def console(result: dict[str, Any], checks: list[dict[str, Any]]) -> str:
    lines = [f"{'yes' if c['met'] else 'NO ':<4} {c['name']}: {c['figure']}" for c in checks]
    return "\n".join(lines) + "\n"


# --- the Markdown report ------------------------------------------------------------------------


def render_report(result: dict[str, Any], checks: list[dict[str, Any]]) -> str:
    m = result["machine"]
    s = result["settings"]
    info = result.get("info", {})
    db_name = info.get("version") or ("PostgreSQL " + str(result.get("postgres", "?")))
    out = [
        "# Benchmark: journeys and newsletters",
        "",
        "Sending a personalised newsletter, the time from a trigger to the first mail, and the "
        'periodic pass over waiting journey runs (issue "Journeys and newsletters", section '
        "Speed). This file is written by the benchmark; do not edit it by hand, run it again.",
        "",
        "```sh",
        result["command"],
        "```",
        "",
        f"Run {result['started']} – {result['finished']} (UTC), "
        f"{result.get('seconds', 0) / 60:.1f} minutes.",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), "
        f"{m['ram_gib']:.1f} GiB RAM; Linux {m['kernel']}; Python {m['python']}",
        f"- Database: {db_name}"
        + (" on the same machine (server defaults)" if "PostgreSQL" in db_name else "")
        + (
            f"; {', '.join(f'{k} {v}' for k, v in info['settings'].items())}"
            if info.get("settings")
            else ""
        )
        + (f". SQLite {result.get('sqlite', '?')}." if "PostgreSQL" in db_name else "."),
        f"- Load average (1 min) at the start {m['load_start'][0]:.2f}, at the end "
        f"{m['load_end'][0]:.2f}. Workers, sink, PostgreSQL and the benchmark share the two "
        "cores.",
        "",
        "## Targets",
        "",
        "| Measure | Target | Figure | Met? |",
        "|---|---|---|---|",
    ]
    for c in checks:
        out.append(f"| {c['name']} | {c['target']} | {c['figure']} | {_verdict(c['met'])} |")
    missed = [c for c in checks if not c["met"]]
    if s.get("quick"):
        out += [
            "",
            "_A quick run (`--quick`, tiny sizes): the speed figures say nothing; the exactness "
            "checks are what it is for._",
        ]
    out += _setup(result)
    if result.get("rounds"):
        out += _rounds(result)
    if result.get("triggers"):
        out += _triggers(result)
    if result.get("profile"):
        out += _profile(result)
    if result.get("tick"):
        out += _tick(result)
    out += _reading(result, missed)
    return "\n".join(out) + "\n"


def _setup(result: dict[str, Any]) -> list[str]:
    setup = result.get("setup")
    if not setup:
        return []
    plan = setup["plan"]
    seg = setup["segments"]
    yes = plan.get("yes", 0)
    contacts = yes + plan.get("none", 0) + plan.get("withdrawn", 0)
    return [
        "",
        "## Set-up",
        "",
        f"- One house with {contacts:,} contacts with an e-mail address (86 % German-, 14 % "
        "English-speaking, German and international names, 0 to 3 of 12 interests) and "
        f"{plan.get('erased', 0):,} erased contacts beside them. The newsletter consent: "
        f"granted by {yes:,}, never given by {plan.get('none', 0):,}, withdrawn by "
        f"{plan.get('withdrawn', 0):,}; {plan.get('status_bounced', 0):,} addresses bounced, "
        f"{plan.get('status_complained', 0):,} complained, {plan.get('paused', 0):,} contacts "
        "paused their mails. The guardrails of the delivery service decide who of them gets "
        "the mail, at the moment of sending.",
        f"- Programme: {setup['programme']['dates']} upcoming dates of "
        f"{setup['programme']['items_with_dates']} items with a venue and accessibility "
        "information, for the events block.",
        "- Template (marketing, purpose newsletter): a heading with the house's name, a Markdown "
        "text that greets the contact by first name, the next three dates that match the "
        "contact's interests, a button. Rendered per contact in their language (HTML and plain "
        "text), with click tracking (signed redirect links), a one-click List-Unsubscribe "
        "header and a signed preference link.",
        "- Segments: "
        + "; ".join(
            f"{v['name']} ({v['count']:,} contacts)" for k, v in seg.items() if k != "sample"
        )
        + f"; every tenth contact ({seg['sample']['count']:,}; the baseline round).",
        "- Delivery settings: no quiet hours (the default, 21:00–08:00 in the house's time "
        "zone, would hold a run at night back), the default frequency cap (2 marketing mails "
        "in 7 days). Each round starts from the same state: the previous round's messages and "
        "timeline entries are deleted before it.",
        "- Workers: `publikum worker` (django-tasks' database queue, polled every 0.5 s; the "
        f"tick every {result.get('info', {}).get('tick_seconds', 10):.0f} s), "
        "`DEBUG=false`, started fresh for each round; every periodic job was marked as just "
        "run, as in a worker that has been running for a while (otherwise the daily lifecycle "
        "recompute would start at the first tick of the fresh database).",
        "- SMTP: a counting sink (aiosmtpd) in its own process on loopback; it records the "
        "time, recipients and idempotency key of every mail and stores nothing else.",
    ]


def _rounds(result: dict[str, Any]) -> list[str]:
    out = [
        "",
        "## Newsletter rounds",
        "",
        "Rate: mails received by the sink ÷ time from the first message queued to the last "
        "mail received. From *send*: from the commit of “send now” (the newsletter's queueing "
        "job is picked up by a worker within its poll interval). CPU per mail: CPU time of "
        "the workers, the sink and the PostgreSQL server processes of the benchmark "
        "database during the round, divided by the mails received. Cores busy: the CPU time "
        "of those processes ÷ the round's duration, and what every other process on the "
        "machine used meanwhile (the benchmark's own polling with psql, and other people's "
        "test suites on a shared machine); of 2.",
        "",
        "| Round | Workers | Segment | Sent / suppressed / failed | Received (twice) | "
        "First queued → last received | Rate | From send | Queueing took | "
        "Peak RSS per worker (idle) | CPU per mail: workers / sink / database | "
        "Cores busy: these / other processes | Load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rounds"]:
        st = r["db"]["by_status"]
        mem = ", ".join(f"{_mib(x['peak'])} ({_mib(x['idle'])})" for x in r["memory"])
        cpu = r["cpu_ms_per_message"]
        out.append(
            f"| {r['label']} | {r['workers']} | {r['segment_contacts']:,} | "
            f"{st.get('sent', 0):,} / {st.get('suppressed', 0):,} / {st.get('failed', 0):,} | "
            f"{r['received']:,} ({r['keys_twice']}) | {r['wall']:,.1f} s | "
            f"**{r['rate']:,.0f}/s** | {r['rate_from_send']:,.0f}/s | "
            f"{r['queueing_seconds']:,.1f} s | {mem} | "
            f"{cpu['workers']:.2f} / {cpu['sink']:.2f} / {cpu['database']:.2f} ms | "
            f"{_cores(r)} | {r['load'][0]:.1f} → {r['load'][1]:.1f} |"
        )
    reasons: dict[str, int] = {}
    for r in result["rounds"]:
        if r["label"] != "baseline":
            reasons = r["db"]["reasons"]
    if reasons:
        out += [
            "",
            "Not sent, by guardrail (full round): "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))
            + ".",
        ]
    errors = [e for r in result["rounds"] for e in r.get("worker_errors", [])]
    if errors:
        out += ["", "Errors in the worker logs:", "", "```", *errors, "```"]
    full = [r for r in result["rounds"] if r["label"] != "baseline"]
    if full:
        best = max(full, key=lambda r: r["rate"])
        out += [
            "",
            f"At {best['rate']:,.0f} mails/s ({best['workers']} worker(s)) a house sends "
            f"{best['rate'] * 3600:,.0f} mails an hour on this 2-core machine; the issue quotes "
            f"CiviMail with about {CIVIMAIL_PER_HOUR:,} an hour on four cores and a Mautic user "
            "whose 230,000 mails took 8 hours. Mean mail size "
            f"{best['mean_size'] / 1024:,.1f} KiB.",
        ]
    return out


def _cores(r: dict[str, Any]) -> str:
    """How many of the cores the round's processes and everything else kept busy."""
    cpu = r["cpu"]
    elapsed = cpu.get("elapsed")
    if not elapsed:
        return "–"
    mine = cpu["workers"] + cpu["sink"] + cpu["database"]
    return f"{mine / elapsed:.2f} / {cpu.get('others', 0) / elapsed:.2f}"


def _triggers(result: dict[str, Any]) -> list[str]:
    t = result["triggers"]
    lat = t.get("latency") or {}
    out = [
        "",
        "## Trigger latency",
        "",
        f"{t['count']} people subscribe to the newsletter and confirm, one every "
        f"{t['spacing'] * 1000:.0f} ms, through the audience service (`subscription_create`, "
        "which mails the confirmation link to the sink, then `subscription_confirm`, which "
        "fires the journeys' “subscribed” trigger after its commit). The ready-made "
        "“welcome” journey is active; its first step sends the welcome mail. "
        f"{t['workers']} `publikum worker` process runs (database queue polled every 0.5 s, "
        f"tick every {t.get('tick_seconds') or 10:.0f} s, the periodic advance job every 5 s). "
        "Latency: from the confirmation's commit to the welcome mail's arrival at the sink.",
        "",
        f"- Welcome mails received: {t['received']} of {t['count']}"
        + (f" (missing: {', '.join(t['missing'][:5])})" if t["missing"] else ""),
    ]
    if lat:
        out.append(
            f"- Latency: median **{lat['p50']:.2f} s**, p95 **{lat['p95']:.2f} s**, "
            f"max {lat['max']:.2f} s, min {lat['min']:.2f} s (target p95 < "
            f"{TARGET_TRIGGER_P95:.0f} s)."
        )
    split = t.get("split_median")
    if split:
        out.append(
            "- Where it goes (medians): commit → run entered "
            f"{_ms(split['entered'])} (after-commit hook in the confirming process), entered → "
            f"mail queued {_ms(split['queued'])} (the `advance_runs` job waits for a worker's "
            f"poll), queued → sent {_ms(split['sent'])} (the `deliver_due` job waits for the "
            f"next poll), sent → received {_ms(split['received'])}."
        )
    if t.get("worker_errors"):
        out += ["", "```", *t["worker_errors"], "```"]
    return out


def _profile(result: dict[str, Any]) -> list[str]:
    p = result["profile"]
    plain = p["plain"]
    prof = p["profiled"]
    handled = plain["sent"] + plain["suppressed"]
    db = p["db"]
    per = prof["sent"] + prof["suppressed"]
    out = [
        "",
        "## Where a worker's time goes",
        "",
        f"Delivery of part of the baseline newsletter in one process (`messages_deliver`, "
        "the code the `deliver_due` job runs), after a short warm-up: "
        f"{plain['sent']:,} mails sent (and {plain['suppressed']:,} suppressed) without the "
        f"profiler in {plain['seconds']:.2f} s, "
        f"**{plain['cpu_seconds'] * 1000 / max(handled, 1):.2f} ms CPU per message** in the "
        f"worker ({handled / max(plain['seconds'], 1e-9):,.0f} messages/s for one process "
        "with PostgreSQL and the sink on the other core). "
        f"Queueing {p['queued']:,} messages took {p['queue_seconds']:.2f} s.",
        "",
        f"Under cProfile ({per:,} messages, {prof['seconds']:.2f} s with the profiler's "
        f"overhead): {db['queries']:,} SQL statements, "
        f"**{db['queries'] / max(per, 1):.1f} per message**, {db['db_seconds']:.2f} s "
        "waiting for the database. By statement kind:",
        "",
        "| Statement | Count | Per message | Seconds |",
        "|---|---|---|---|",
    ]
    for k in db["by_kind"]:
        out.append(
            f"| `{k['kind']}` | {k['count']:,} | {k['count'] / max(per, 1):.2f} | "
            f"{k['seconds']:.2f} |"
        )
    out += [
        "",
        f"Cumulative time of the parts (with profiler overhead; per message = ÷ {per:,}):",
        "",
        "| Part | Calls | Seconds | ms per message | Share of the run |",
        "|---|---|---|---|---|",
    ]
    selected = p["profile"]["selected"]
    total = next((x["cumtime"] for x in selected if "delivery run" in x["what"]), None)
    for x in selected:
        share = f"{x['cumtime'] / total * 100:.0f} %" if total else "–"
        out.append(
            f"| {x['what']} | {x['calls']:,} | {x['cumtime']:.2f} | "
            f"{x['cumtime'] * 1000 / max(per, 1):.2f} | {share} |"
        )
    out += [
        "",
        "Functions with the most time of their own (tottime):",
        "",
        "| Function | Calls | Own seconds | Cumulative |",
        "|---|---|---|---|",
    ]
    for row in p["profile"]["top_tottime"][:15]:
        out.append(
            f"| `{row['function']}` | {row['calls']:,} | {row['tottime']:.2f} | "
            f"{row['cumtime']:.2f} |"
        )
    return out


def _tick(result: dict[str, Any]) -> list[str]:
    t = result["tick"]
    out = [
        "",
        "## The tick with many waiting runs",
        "",
        f"A second house; {t['waiting']:,} of its contacts wait in its “welcome” journey "
        "(at the second mail, due at random over the next 30 days), inserted set-based, then "
        "ANALYZE. The measured pass is the periodic job the tick enqueues every 5 s "
        "(`engine_tasks.advance_due_job`, called as the worker calls it, in a process of its "
        "own with no worker running): it claims due runs of active journeys ten at a time "
        "(`SELECT … FOR UPDATE SKIP LOCKED`) and walks each to its next wait or end (here: "
        "queue the second welcome mail, then end). `jobs.tick()` itself only enqueues due "
        "periodic jobs.",
        "",
        "| Runs waiting | Runs due | Pass (median) | Runs moved | Per due run | Statements | "
        "`jobs.tick()` |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in ("baseline", "full"):
        for kind in ("idle", "due"):
            x = t.get(f"{label}_{kind}")
            if not x:
                continue
            moved = sum(x["processed"])
            per = _ms(x["median"] / moved) if moved else "–"
            queries = x.get("queries", {}).get("queries", "–")
            out.append(
                f"| {x['waiting']:,} | {x['expected_due']:,} | {_ms(x['median'])} | {moved:,} | "
                f"{per} | {queries} | {_ms(x['tick_seconds'])} |"
            )
    full = t.get("full_idle", {})
    if full.get("claim_sql"):
        # The selected columns of the four joined tables say nothing; the rest does.
        sql = re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", full["claim_sql"], flags=re.S)
        out += ["", "The claim query of the pass (columns left out):", "", "```sql", sql, "```"]
    if full.get("plan"):
        out += [
            "",
            f"Its plan with {full['waiting']:,} runs waiting (EXPLAIN ANALYZE, BUFFERS):",
            "",
            "```",
            full["plan"],
            "```",
        ]
    if t.get("contacts_seconds"):
        out += [
            "",
            f"Loading: {t['waiting'] + 2 * t['due']:,} contacts in {t['contacts_seconds']:.1f} s "
            f"(the audience benchmark's set-based generator), runs in "
            f"{t.get('full_insert_seconds', 0):.1f} s.",
        ]
    return out


def _reading(result: dict[str, Any], missed: list[dict[str, Any]]) -> list[str]:
    out = ["", "## Reading the figures", ""]
    rounds = result.get("rounds", [])
    full = [r for r in rounds if r["label"] != "baseline"]
    if full:
        one = next((r for r in full if r["workers"] == 1), None)
        two = next((r for r in full if r["workers"] == 2), None)
        if one and two and one["rate"]:
            out.append(
                f"- Two workers send {two['rate'] / one['rate']:.2f} × as fast as one "
                f"({two['rate']:,.0f} vs {one['rate']:,.0f} mails/s). On two cores the second "
                "worker competes with PostgreSQL, the sink and the other worker for CPU: "
                "CPU per mail (workers + sink + database) "
                f"{sum(two['cpu_ms_per_message'].values()):.2f} ms vs "
                f"{sum(one['cpu_ms_per_message'].values()):.2f} ms, i.e. at most about "
                f"{2000 / max(sum(two['cpu_ms_per_message'].values()), 1e-9):,.0f} mails/s "
                "if the two cores did nothing else."
            )
        for r in full:
            waits = r["start_delay"]
            out.append(
                f"- {r['label']}: the first message was queued {waits:.1f} s after “send now” "
                f"and the first mail left {_ms(r['first_received_after'])} after it; queueing "
                f"all {r['db']['messages']:,} messages took {r['queueing_seconds']:.1f} s of "
                f"the {r['wall']:.1f} s (delivery runs while the queueing job goes on)."
            )
        base = _baseline(result)
        if base:
            out.append(
                f"- Memory: a worker's resident set grows from {_mib(base['memory'][0]['idle'])} "
                f"idle to a peak of {_mib(_peak(base))} for {base['segment_contacts']:,} "
                "contacts and "
                + ", ".join(
                    f"{_mib(_peak(r))} for {r['segment_contacts']:,} ({r['workers']} worker(s))"
                    for r in full
                )
                + ": delivery holds one claim of 100 messages at a time and the queueing job "
                "1,000 ids, never the segment."
            )
    for c in missed:
        out.append(f"- **Missed: {c['name']}** ({c['figure']}; target {c['target']}).")
    for r in full:
        if r["rate"] >= TARGET_RATE:
            continue
        cpu = r["cpu_ms_per_message"]
        per = sum(cpu.values())
        out.append(
            f"  {r['label']}: every mail cost {per:.2f} ms of CPU (workers {cpu['workers']:.2f}, "
            f"sink {cpu['sink']:.2f}, PostgreSQL {cpu['database']:.2f}); two cores doing "
            f"nothing else would allow at most {2000 / max(per, 1e-9):,.0f} mails/s. Cores "
            f"busy with the round's processes / with other processes: {_cores(r)}. "
            + (
                "One worker sends one mail after another and waits for each statement and "
                "each SMTP reply, so it cannot use more than one core."
                if r["workers"] == 1
                else "Below that ceiling the processes wait for each other (statement and SMTP "
                "round trips) and for the cores other processes took."
            )
        )
    if any(c["name"].startswith("Newsletter") for c in missed) and result.get("profile"):
        out.append("  See “Where a worker's time goes” above for the code paths and their cost.")
    if not missed:
        out.append("- Every target was met in this run.")
    return out


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
