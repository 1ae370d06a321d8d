"""Programme import from iCalendar (.ics) and CSV files, with a report per event or row.

The readers (`import_ics.py`, `import_csv.py`) turn a file into records; `import_writer.py`
writes them through the programme services (`item_create`, `occurrence_create`, ...), one
item with its dates at a time in its own transaction, so that a rejected item leaves
nothing behind and the others are still imported. Items are found again by their external key
(`ProgrammeItem.external_id`: the iCalendar UID, or title and venue of a CSV row), and
their dates by the start time, so that importing the same file twice changes nothing.

A run is an `audience.ImportRun` with kind "programme": the upload is stored under
DATA_DIR/imports/<org-id>/, a CSV waits for its column mapping, and the background job
`programme_import_job` reads and writes it. The command line runs the same code inline.
The report (counts, notes) is kept in the run's `mapping["report"]`; rejected events and
rows in `ImportRun.rejected`.
"""

from __future__ import annotations

import io
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from publikum.audience.importing import (
    DELIMITER_NAMES,
    UnreadableFile,
    check_size,
    encoding_label,
    remove_stored,
    save_upload,
    stored_path,
)
from publikum.audience.models import ImportRun, ImportStatus
from publikum.core.errors import DomainError, ValidationFailed
from publikum.core.jobs import job, on_commit_enqueue
from publikum.core.models import ApiToken, Organisation, User
from publikum.core.services import audit_log
from publikum.programme import import_csv
from publikum.programme.import_records import ParsedFile
from publikum.programme.import_writer import (
    FORMATS,
    Options,
    Outcome,
    check_options,
    detect_format,
    read_file,
    run_outcome,
)
from publikum.programme.models import ItemKind

KIND = "programme"
# Uploads whose mapping was never confirmed are removed after this long.
STALE_UPLOAD_AGE = timedelta(hours=24)
# The report lists rejected events and rows and notes up to this many each.
MAX_LISTED = 10_000

__all__ = [
    "FORMATS",
    "KIND",
    "Options",
    "Outcome",
    "check_options",
    "detect_format",
    "import_file",
    "programme_import_cancel",
    "programme_import_check",
    "programme_import_execute",
    "programme_import_job",
    "programme_import_start",
    "programme_import_upload",
    "read_file",
    "run_outcome",
]


# --- runs: stored shape ---------------------------------------------------------------------------


def run_options(run: ImportRun) -> Options:
    stored = dict((run.mapping or {}).get("options", {}))
    return Options(
        format=str(stored.get("format", "csv")),
        default_kind=str(stored.get("default_kind", ItemKind.PERFORMANCE)),
        capacity=int(stored.get("capacity", 0)),
        preset=str(stored.get("preset", "")),
        language=str(stored.get("language", "")),
        dry_run=bool(stored.get("dry_run", False)),
    )


def run_columns(run: ImportRun) -> dict[str, str]:
    columns = (run.mapping or {}).get("columns", {})
    return {str(k): str(v) for k, v in columns.items()}


def run_report(run: ImportRun) -> dict[str, Any]:
    return dict((run.mapping or {}).get("report", {}))


def _store(run: ImportRun, *, options: Options, columns: dict[str, str] | None = None) -> None:
    mapping = dict(run.mapping or {})
    mapping["options"] = asdict(options)
    if columns is not None:
        mapping["columns"] = columns
    run.mapping = mapping


def _store_outcome(run: ImportRun, parsed: ParsedFile, outcome: Outcome) -> None:
    run.total_rows = parsed.total
    run.created_count = outcome.dates_created
    run.updated_count = outcome.dates_updated
    run.rejected_count = len(outcome.rejected)
    run.rejected = outcome.rejected[:MAX_LISTED]
    run.encoding = parsed.encoding
    run.delimiter = parsed.delimiter
    mapping = dict(run.mapping or {})
    mapping["report"] = {
        **outcome.figures(),
        "notes": outcome.notes[:MAX_LISTED],
        "file_notes": outcome.file_notes,
    }
    run.mapping = mapping


# --- storage ------------------------------------------------------------------------------------


def _discard_stale_uploads(organisation: Organisation) -> None:
    cutoff = timezone.now() - STALE_UPLOAD_AGE
    for run in ImportRun.objects.filter(
        organisation=organisation, kind=KIND, status=ImportStatus.PENDING, created_at__lt=cutoff
    ):
        remove_stored(run)
        run.status = ImportStatus.FAILED
        run.error = _("The column mapping was not confirmed within 24 hours; the file was removed.")
        run.save(update_fields=["stored_file", "status", "error", "updated_at"])


def _safe_filename(name: str) -> str:
    return Path(name or "programme").name[:255] or "programme"


# --- services -----------------------------------------------------------------------------------


def programme_import_upload(
    *,
    organisation: Organisation,
    upload: UploadedFile,
    file_format: str = "",
    default_kind: str,
    capacity: int,
    preset: str | None = None,
    dry_run: bool = False,
    actor: User | None = None,
    token: ApiToken | None = None,
) -> ImportRun:
    """Store an uploaded file. An iCalendar file starts at once; a CSV file waits for its
    column mapping, and so does any file to be checked first (`dry_run`). A file that
    cannot be read at all is refused and removed."""
    check_size(upload.size)
    import_csv.check_preset(preset)
    _discard_stale_uploads(organisation)
    path = save_upload(organisation, upload, ".programme")
    filename = _safe_filename(upload.name or "")
    try:
        chosen = file_format or detect_format(path, filename)
        options = check_options(file_format=chosen, default_kind=default_kind, capacity=capacity)
        options.language = translation.get_language() or settings.LANGUAGE_CODE
        options.dry_run = dry_run
        options.preset = preset or ""
        run = ImportRun(
            organisation=organisation,
            kind=KIND,
            filename=filename,
            stored_file=str(path.relative_to(Path(settings.DATA_DIR))),
            created_by=actor,
        )
        if options.format == "csv":
            info = import_csv.inspect_csv(path)
            run.encoding, run.delimiter = info.encoding, info.delimiter
            _store(
                run,
                options=options,
                columns=import_csv.guess_mapping(info.header, preset=options.preset or None),
            )
        else:
            parsed = read_file(organisation, path, options=options)
            run.encoding = parsed.encoding
            if not dry_run:
                run.status = ImportStatus.RUNNING
            _store(run, options=options)
    except DomainError:
        path.unlink(missing_ok=True)
        raise
    with transaction.atomic():
        run.save()
        audit_log(
            organisation,
            "programme.import.uploaded",
            actor=actor,
            token=token,
            obj=run,
            data={"format": options.format, "filename": filename},
        )
        if run.status == ImportStatus.RUNNING:
            on_commit_enqueue(programme_import_job, run.pk, organisation_id=organisation.pk)
    return run


def run_file_info(run: ImportRun) -> import_csv.FileInfo:
    """Header and first rows of a waiting CSV run's stored file."""
    path = stored_path(run)
    if path is None or not path.is_file():
        raise UnreadableFile(_("The uploaded file is no longer there; upload it again."))
    return import_csv.inspect_csv(path)


def programme_import_check(*, run: ImportRun, mapping: dict[str, str] | None = None) -> ImportRun:
    """A dry run of a waiting run (with `mapping` for a CSV file): an unsaved copy of the
    run with the report of everything as it would be. Nothing is kept; the run waits on."""
    path = stored_path(run)
    if path is None or not path.is_file():
        raise UnreadableFile(_("The uploaded file is no longer there; upload it again."))
    options = run_options(run)
    columns: dict[str, str] | None = None
    if options.format == "csv":
        info = import_csv.inspect_csv(path)
        columns = import_csv.resolve_mapping(
            info.header, preset=options.preset or None, explicit=mapping
        )
    parsed = read_file(run.organisation, path, options=options, mapping=columns)
    outcome = run_outcome(run.organisation, parsed, options=options, dry_run=True)
    preview = ImportRun(
        organisation=run.organisation,
        kind=KIND,
        filename=run.filename,
        status=ImportStatus.DONE,
        created_by=run.created_by,
    )
    _store(preview, options=options, columns=columns)
    _store_outcome(preview, parsed, outcome)
    return preview


def programme_import_start(
    *,
    run: ImportRun,
    mapping: dict[str, str] | None = None,
    preset: str | None = None,
    actor: User | None = None,
    token: ApiToken | None = None,
) -> ImportRun:
    """Confirm a waiting run (a CSV file with its column mapping) and hand it to the
    background job."""
    if run.status != ImportStatus.PENDING:
        raise ValidationFailed(
            _("This import is not waiting for its column mapping (it has started already)."),
            fields={"status": [run.status]},
        )
    options = run_options(run)
    columns: dict[str, str] | None = None
    if options.format == "csv":
        info = run_file_info(run)
        if preset is not None:
            import_csv.check_preset(preset)
            options.preset = preset
        columns = import_csv.resolve_mapping(
            info.header, preset=options.preset or None, explicit=mapping
        )
    else:
        path = stored_path(run)
        if path is None or not path.is_file():
            raise UnreadableFile(_("The uploaded file is no longer there; upload it again."))
    with transaction.atomic():
        locked = ImportRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != ImportStatus.PENDING:
            raise ValidationFailed(
                _("This import is not waiting for its column mapping (it has started already)."),
                fields={"status": [locked.status]},
            )
        _store(locked, options=options, columns=columns)
        locked.status = ImportStatus.RUNNING
        locked.save()
        audit_log(
            locked.organisation,
            "programme.import.started",
            actor=actor,
            token=token,
            obj=locked,
            data={"format": options.format},
        )
        on_commit_enqueue(programme_import_job, locked.pk, organisation_id=locked.organisation_id)
    return locked


@transaction.atomic
def programme_import_cancel(*, run: ImportRun, actor: User | None = None) -> ImportRun:
    """Drop a run that waits for its mapping, with its stored file."""
    run = ImportRun.objects.select_for_update().get(pk=run.pk)
    if run.status != ImportStatus.PENDING:
        raise ValidationFailed(_("Only an import that waits for its mapping can be cancelled."))
    remove_stored(run)
    run.status = ImportStatus.FAILED
    run.error = _("Cancelled before the import started.")
    run.finished_at = timezone.now()
    run.save()
    audit_log(run.organisation, "programme.import.cancelled", actor=actor, obj=run)
    return run


def _finish(
    run: ImportRun,
    parsed: ParsedFile,
    outcome: Outcome,
    *,
    actor: User | None,
    token: ApiToken | None,
) -> None:
    _store_outcome(run, parsed, outcome)
    run.status = ImportStatus.DONE
    run.error = ""
    run.finished_at = timezone.now()
    run.save()
    audit_log(
        run.organisation,
        "programme.import.finished",
        actor=actor,
        token=token,
        label="" if actor or token else "import",
        obj=run,
        data={
            "format": run_options(run).format,
            **outcome.figures(),
            "rejected": run.rejected_count,
        },
    )


def _fail(run: ImportRun, message: str) -> None:
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportStatus.FAILED,
        error=message[:2000],
        finished_at=timezone.now(),
        stored_file="",
        updated_at=timezone.now(),
    )
    audit_log(run.organisation, "programme.import.failed", label="import", obj=run)


def programme_import_execute(
    *, run: ImportRun, path: Path | None = None, now: datetime | None = None
) -> ImportRun:
    """Read the run's file and write it; the run ends done (with its report) or failed.

    Call for a run in status "running". Each item commits on its own; an uploaded file is
    removed afterwards either way."""
    options = run_options(run)
    path = path or stored_path(run)
    with translation.override(options.language or run.organisation.language):
        try:
            if path is None or not path.is_file():
                raise UnreadableFile(_("The file to import is no longer there; upload it again."))
            parsed = read_file(
                run.organisation, path, options=options, mapping=run_columns(run) or None, now=now
            )
            outcome = run_outcome(run.organisation, parsed, options=options, actor=run.created_by)
        except DomainError as exc:
            remove_stored(run)
            _fail(run, exc.message)
            run.refresh_from_db()
            return run
        except Exception as exc:
            remove_stored(run)
            _fail(
                run,
                _("The import stopped with an internal error (%(error)s).")
                % {"error": type(exc).__name__},
            )
            raise
        with transaction.atomic():
            remove_stored(run)
            _finish(run, parsed, outcome, actor=run.created_by, token=None)
    return run


def import_file(
    *,
    organisation: Organisation,
    path: Path,
    file_format: str = "",
    default_kind: str,
    capacity: int,
    preset: str | None = None,
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> ImportRun:
    """Import a file from the local disk at once (the command line); it is left in place.

    With `dry_run` every event and row is checked and written as it would be, and nothing
    is kept, the run itself neither (its `pk` is None)."""
    if not path.is_file():
        raise UnreadableFile(_("There is no file %(path)s.") % {"path": path})
    check_size(path.stat().st_size)
    options = check_options(
        file_format=file_format or detect_format(path),
        default_kind=default_kind,
        capacity=capacity,
    )
    options.language = translation.get_language() or settings.LANGUAGE_CODE
    if preset:
        import_csv.check_preset(preset)
        options.preset = preset
    run = ImportRun(
        organisation=organisation,
        kind=KIND,
        filename=_safe_filename(path.name),
        status=ImportStatus.RUNNING,
    )
    columns: dict[str, str] | None = None
    if options.format == "csv":
        info = import_csv.inspect_csv(path)
        columns = import_csv.resolve_mapping(info.header, preset=preset, explicit=mapping)
    _store(run, options=options, columns=columns)
    if not dry_run:
        run.save()
        return programme_import_execute(run=run, path=path, now=now)
    parsed = read_file(organisation, path, options=options, mapping=columns, now=now)
    outcome = run_outcome(organisation, parsed, options=options, dry_run=True)
    _store_outcome(run, parsed, outcome)
    run.status = ImportStatus.DONE
    return run


# --- reads --------------------------------------------------------------------------------------


def programme_import_list(*, organisation: Organisation) -> QuerySet[ImportRun]:
    return ImportRun.objects.filter(organisation=organisation, kind=KIND).order_by(
        "-created_at", "-id"
    )


# --- the background job ---------------------------------------------------------------------------


@job(max_attempts=1)
def programme_import_job(import_id: int, *, organisation_id: int) -> str:
    """Run a started import. Safe to run twice: only a run still "running" is processed."""
    run = (
        ImportRun.objects.select_related("organisation", "created_by")
        .filter(pk=import_id, organisation_id=organisation_id, kind=KIND)
        .first()
    )
    if run is None or run.status != ImportStatus.RUNNING or run.finished_at is not None:
        return "skipped"
    programme_import_execute(run=run)
    return str(run.status)


# --- the report ------------------------------------------------------------------------------


def report_lines(run: ImportRun, *, dry_run: bool = False) -> list[str]:
    """The counts and notes as sentences (the command line and the report page)."""
    report = run_report(run)
    lines = [
        _("Items: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.")
        % {
            "created": report.get("items_created", 0),
            "updated": report.get("items_updated", 0),
            "unchanged": report.get("items_unchanged", 0),
        },
        _(
            "Dates: %(created)d created, %(updated)d updated, %(unchanged)d unchanged, "
            "%(cancelled)d cancelled, %(past)d in the past skipped."
        )
        % {
            "created": report.get("dates_created", 0),
            "updated": report.get("dates_updated", 0),
            "unchanged": report.get("dates_unchanged", 0),
            "cancelled": report.get("dates_cancelled", 0),
            "past": report.get("skipped_past", 0),
        },
    ]
    if report.get("venues_created") or report.get("themes_created"):
        lines.append(
            _("New venues: %(venues)d; new themes: %(themes)d.")
            % {"venues": report.get("venues_created", 0), "themes": report.get("themes_created", 0)}
        )
    return lines


def where(run: ImportRun, ref: int) -> str:
    """ "Line 12" for an iCalendar file, "Row 12" for a CSV file."""
    if run_options(run).format == "ics":
        return _("Line %(n)d") % {"n": ref}
    return _("Row %(n)d") % {"n": ref}


def entry_text(run: ImportRun, entry: dict[str, Any]) -> str:
    label = entry.get("label") or ""
    head = where(run, int(entry["row"]))
    if label:
        head = f"{head} (“{label}”)"
    return f"{head}: {' '.join(entry.get('errors', []))}"


def report_text(run: ImportRun) -> str:
    """The report as plain text, for the command line."""
    out = io.StringIO()
    options = run_options(run)
    if run.pk is None:
        out.write(_("Dry run, nothing was saved: programme from %(file)s") % {"file": run.filename})
    else:
        out.write(
            _("Import %(id)d: programme from %(file)s") % {"id": run.pk, "file": run.filename}
        )
    out.write("\n")
    if options.format == "ics":
        out.write(
            _("Format: iCalendar; encoding: %(encoding)s")
            % {"encoding": encoding_label(run.encoding or "utf-8")}
        )
    else:
        out.write(
            _("Format: CSV; encoding: %(encoding)s; delimiter: %(delimiter)s")
            % {
                "encoding": encoding_label(run.encoding),
                "delimiter": DELIMITER_NAMES.get(run.delimiter, run.delimiter),
            }
        )
        out.write("\n")
        mapped = ", ".join(f"{c} → {f}" for c, f in run_columns(run).items() if f)
        out.write(_("Columns: %(columns)s") % {"columns": mapped})
    out.write("\n")
    if run.status == ImportStatus.FAILED:
        out.write(_("Failed: %(error)s") % {"error": run.error} + "\n")
        return out.getvalue()
    label = _("Events") if options.format == "ics" else _("Rows")
    out.write(
        _("%(label)s: %(total)d; rejected: %(rejected)d")
        % {"label": label, "total": run.total_rows, "rejected": run.rejected_count}
        + "\n"
    )
    for line in report_lines(run):
        out.write(line + "\n")
    report = run_report(run)
    for note in report.get("file_notes", []):
        out.write(_("Note: %(note)s") % {"note": note} + "\n")
    for entry in report.get("notes", []):
        out.write(_("Note: %(note)s") % {"note": entry_text(run, entry)} + "\n")
    for entry in run.rejected or []:
        out.write(_("Rejected: %(entry)s") % {"entry": entry_text(run, entry)} + "\n")
    return out.getvalue()


def report_dict(run: ImportRun) -> dict[str, Any]:
    report = run_report(run)
    return {
        "id": run.pk,
        "kind": run.kind,
        "filename": run.filename,
        "status": run.status,
        "format": run_options(run).format,
        "encoding": run.encoding,
        "delimiter": run.delimiter,
        "mapping": run_columns(run),
        "total": run.total_rows,
        **{k: v for k, v in report.items() if k not in ("notes", "file_notes")},
        "rejected_count": run.rejected_count,
        "rejected": run.rejected,
        "notes": report.get("notes", []),
        "file_notes": report.get("file_notes", []),
        "error": run.error,
        "dry_run": run.pk is None,
    }
