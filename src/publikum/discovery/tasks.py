"""Background jobs of discovery: keeping the precomputed lists fresh, purging old offers.

Every two minutes `lists_check` asks each organisation with contacts what its lists need
(`precompute.lists_due`) and enqueues at most one job for it: the whole batch when the
programme or the dial changed, there never was a batch, the last one is a day old or very
many contacts have new history; else a refresh of the few contacts whose visits or bookings
came in since their list was written. Both jobs take ids, check again what is due when they
run and are safe to run twice.

Changed stated interests are not looked for here: reading every contact's interests every
two minutes would cost more than it saves. The serving path compares them
(`stored.stored_answer`) and answers such a contact live until the next batch, at most a
day later (`precompute.MAX_AGE`); a refresh for new history writes the current ones too.
"""

from __future__ import annotations

from datetime import timedelta

from publikum.core.jobs import job, periodic


@periodic("discovery.lists", every=timedelta(minutes=2))
@job(queue_name="periodic")
def lists_check() -> int:
    """Enqueue, per organisation with contacts, the batch or the refresh its lists need;
    returns how many jobs were enqueued."""
    from django.db.models import Exists, OuterRef

    from publikum.audience.models import Contact
    from publikum.core.models import Organisation
    from publikum.discovery.precompute import lists_due

    has_contacts = Exists(Contact.objects.filter(organisation=OuterRef("pk")))
    enqueued = 0
    for organisation in Organisation.objects.filter(has_contacts).order_by("pk"):
        due = lists_due(organisation=organisation)
        if due.full:
            lists_batch.enqueue(organisation_id=organisation.pk)
            enqueued += 1
        elif due.contact_ids:
            lists_refresh.enqueue(
                organisation_id=organisation.pk, contact_ids=list(due.contact_ids)
            )
            enqueued += 1
    return enqueued


@job()
def lists_batch(*, organisation_id: int) -> int:
    """The whole batch of one organisation if it is still due; returns the lists written
    (0 when a run before this one made them fresh already)."""
    from publikum.core.models import Organisation
    from publikum.discovery.precompute import lists_due, lists_precompute

    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None or not lists_due(organisation=organisation).full:
        return 0
    return lists_precompute(organisation=organisation).contacts


@job()
def lists_refresh(*, organisation_id: int, contact_ids: list[int]) -> int:
    """Rewrite the lists of these contacts from their current history; returns how many
    were written (0 while a full batch is due: it covers them)."""
    from publikum.core.models import Organisation
    from publikum.discovery.precompute import lists_refresh_contacts

    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        return 0
    return lists_refresh_contacts(organisation=organisation, contact_ids=contact_ids)


@periodic("discovery.offers_purge", every=timedelta(days=1))
@job(queue_name="periodic")
def offers_purge() -> int:
    """Delete offers older than OFFER_RETENTION_DAYS; returns how many."""
    from publikum.discovery.privacy import offers_purge as purge

    return purge()
