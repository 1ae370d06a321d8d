"""Figures of an evaluation run, and the report as text or JSON.

- Answers: question cases that expect an entry, an intent or events (not a hand-over);
  the target is 90 % correct in each language.
- Hand-over: positives are the cases that expect one (`expect: {handoff: true}`);
  predicted positive is any reply of the case with `handoff`. Precision and recall.
- Booking dialogues: the share of dialogue cases with an expected booking that ended with
  exactly that booking; cancellations (`expect_booking: null`) are reported apart.
- Latency: the time of each `message_post` call (understanding, answer, database writes),
  median, 95th and 99th percentile (nearest rank), one message after the other.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from publikum.assistant.evaluation.cases import DialogueCase, QuestionCase
from publikum.assistant.evaluation.runner import CaseResult, Run
from publikum.conversations.selectors import percentile

TARGET_ANSWERS = 0.90
TARGET_HANDOFF_RECALL = 0.90
TARGET_BOOKINGS = 0.90
TARGET_P95_SECONDS = 0.100


def _rate(results: list[CaseResult]) -> dict[str, Any]:
    passed = sum(1 for r in results if r.passed)
    return {
        "cases": len(results),
        "passed": passed,
        "accuracy": passed / len(results) if results else None,
    }


def is_answer(result: CaseResult) -> bool:
    return isinstance(result.case, QuestionCase) and not result.case.wants_handoff


def is_booking(result: CaseResult) -> bool:
    return isinstance(result.case, DialogueCase) and result.case.expect_booking is not None


def figures(run: Run) -> dict[str, Any]:
    ran = [r for r in run.results if not r.skipped]
    by_category: dict[str, list[CaseResult]] = defaultdict(list)
    by_language: dict[str, list[CaseResult]] = defaultdict(list)
    answers_by_language: dict[str, list[CaseResult]] = defaultdict(list)
    bookings_by_language: dict[str, list[CaseResult]] = defaultdict(list)
    for r in ran:
        by_category[r.case.category].append(r)
        by_language[r.case.language].append(r)
        if is_answer(r):
            answers_by_language[r.case.language].append(r)
        if is_booking(r):
            bookings_by_language[r.case.language].append(r)
    tp = sum(1 for r in ran if r.case.wants_handoff and r.got_handoff)
    fn = sum(1 for r in ran if r.case.wants_handoff and not r.got_handoff)
    fp = sum(1 for r in ran if not r.case.wants_handoff and r.got_handoff)
    latencies = [s for r in ran for s in r.latencies]
    answers = [r for r in ran if is_answer(r)]
    bookings = [r for r in ran if is_booking(r)]
    cancelled = [
        r for r in ran if isinstance(r.case, DialogueCase) and r.case.expect_booking is None
    ]
    out: dict[str, Any] = {
        "organisation": run.organisation,
        "started": run.started.isoformat(timespec="seconds"),
        "threshold": run.threshold,
        "cases": len(run.results) + len(run.invalid),
        "ran": len(ran),
        "passed": sum(1 for r in ran if r.passed),
        "skipped": [{"id": r.case.id, "why": r.why} for r in run.results if r.skipped],
        "invalid": [str(e) for e in run.invalid],
        "accuracy": _rate(ran)["accuracy"],
        "by_category": {k: _rate(v) for k, v in sorted(by_category.items())},
        "by_language": {k: _rate(v) for k, v in sorted(by_language.items())},
        "answers": _rate(answers),
        "answers_by_language": {k: _rate(v) for k, v in sorted(answers_by_language.items())},
        "handoff": {
            "true_positive": tp,
            "false_positive": fp,
            "false_negative": fn,
            "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None,
        },
        "bookings": _rate(bookings),
        "bookings_by_language": {k: _rate(v) for k, v in sorted(bookings_by_language.items())},
        "cancellations": _rate(cancelled),
        "latency": {
            "messages": len(latencies),
            "median": statistics.median(latencies) if latencies else None,
            "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99),
            "max": max(latencies) if latencies else None,
        },
        "failed": [failure(r) for r in ran if not r.passed],
    }
    out["targets"] = targets(out)
    return out


def targets(f: dict[str, Any]) -> dict[str, bool | None]:
    def at_least(value: float | None, target: float) -> bool | None:
        return None if value is None else value >= target

    out: dict[str, bool | None] = {}
    for language in ("de", "en"):
        rate = f["answers_by_language"].get(language, {}).get("accuracy")
        out[f"answers_{language}"] = at_least(rate, TARGET_ANSWERS)
    out["handoff_recall"] = at_least(f["handoff"]["recall"], TARGET_HANDOFF_RECALL)
    out["bookings"] = at_least(f["bookings"]["accuracy"], TARGET_BOOKINGS)
    p95 = f["latency"]["p95"]
    out["latency_p95"] = None if p95 is None else p95 < TARGET_P95_SECONDS
    return out


def failure(r: CaseResult) -> dict[str, Any]:
    case = r.case
    expected: Any = None
    if isinstance(case, QuestionCase):
        expected = case.expect
    elif isinstance(case, DialogueCase):
        expected = case.expect_booking
    return {
        "id": case.id,
        "language": case.language,
        "category": case.category,
        "expected": expected,
        "why": r.why,
        "handoff_reason": r.handoff_reason,
        "turns": [
            {
                "text": t.text,
                "reply": t.reply,
                "intent": t.intent,
                "confidence": round(t.confidence, 3),
                "sources": t.sources,
                "handoff": t.handoff,
                "booking": t.booking,
            }
            for t in r.turns
        ],
    }


def _pct(rate: dict[str, Any]) -> str:
    if not rate.get("cases"):
        return "–"
    return f"{rate['accuracy'] * 100:5.1f} % ({rate['passed']}/{rate['cases']})"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.1f} ms"


def _met(value: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "–"}[value]


def report_text(f: dict[str, Any], *, verbose: bool = False) -> str:
    lines = [
        f"Assistant evaluation of {f['organisation']} ({f['started']}), "
        f"{f['ran']} cases run"
        + (f", threshold {f['threshold']:.2f}" if f["threshold"] is not None else ""),
        "",
        "All cases:            "
        + _pct({"cases": f["ran"], "passed": f["passed"], "accuracy": f["accuracy"]}),
        "",
        "Per category:",
    ]
    width = max([len(k) for k in f["by_category"]] + [8])
    for name, rate in f["by_category"].items():
        lines.append(f"  {name:<{width}}  {_pct(rate)}")
    lines += ["", "Per language (all cases):"]
    for name, rate in f["by_language"].items():
        lines.append(f"  {name:<5} {_pct(rate)}")
    t = f["targets"]
    lines += ["", "Correct answers (entry, event or intent), target 90 % per language:"]
    for language, rate in f["answers_by_language"].items():
        mark = _met(t.get(f"answers_{language}")) if language in {"de", "en"} else ""
        lines.append(f"  {language:<5} {_pct(rate)}  {mark}")
    h = f["handoff"]
    lines += [
        "",
        f"Hand-over:            precision {_ratio(h['precision'])}, recall {_ratio(h['recall'])} "
        f"(target 90 %: {_met(t['handoff_recall'])}); {h['true_positive']} right, "
        f"{h['false_negative']} missed, {h['false_positive']} unnecessary",
        f"Booking dialogues:    {_pct(f['bookings'])}  target 90 %: {_met(t['bookings'])}",
    ]
    for language, rate in f["bookings_by_language"].items():
        lines.append(f"  {language:<5} {_pct(rate)}")
    lines.append(f"Cancelled dialogues:  {_pct(f['cancellations'])}")
    lat = f["latency"]
    lines += [
        f"Latency per message:  median {_ms(lat['median'])}, p95 {_ms(lat['p95'])}, "
        f"p99 {_ms(lat['p99'])}, max {_ms(lat['max'])} over {lat['messages']} messages "
        f"(one after the other; target p95 < 100 ms: {_met(t['latency_p95'])})",
    ]
    if f["skipped"]:
        lines += ["", f"Skipped ({len(f['skipped'])}):"]
        lines += [f"  {s['id']}: {s['why']}" for s in f["skipped"]]
    if f["invalid"]:
        lines += ["", f"Invalid cases, not run ({len(f['invalid'])}):"]
        lines += [f"  {e}" for e in f["invalid"]]
    if f["failed"]:
        lines += ["", f"Failed ({len(f['failed'])}):"]
        for item in f["failed"]:
            lines.append(f"  {item['id']} [{item['category']}, {item['language']}]: {item['why']}")
            if verbose:
                for turn in item["turns"]:
                    reply = " ".join(str(turn["reply"]).split())
                    if len(reply) > 160:
                        reply = reply[:157] + "..."
                    sources = ", ".join(f"{s.get('type')}:{s.get('id')}" for s in turn["sources"])
                    lines.append(f"      > {turn['text']}")
                    lines.append(
                        f"      < [{turn['intent']} {turn['confidence']:.2f}"
                        f"{' handoff' if turn['handoff'] else ''}"
                        f"{' ' + sources if sources else ''}] {reply}"
                    )
    return "\n".join(lines) + "\n"
