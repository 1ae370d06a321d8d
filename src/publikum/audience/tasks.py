"""Background jobs of the audience."""

from __future__ import annotations

from datetime import timedelta

from publikum.core.jobs import job, periodic

# --- retention: delete contacts no longer needed (personal-data rights) ------------------


@periodic("audience.retention", every=timedelta(days=1))
@job(queue_name="periodic")
def retention_all() -> int:
    """Fan out: one job per organisation whose retention rule is on."""
    from publikum.audience.models import AudienceSettings

    ids = list(
        AudienceSettings.objects.filter(retention_months__gt=0).values_list(
            "organisation_id", flat=True
        )
    )
    for organisation_id in ids:
        retention_of_organisation.enqueue(organisation_id=organisation_id)
    return len(ids)


@job(queue_name="periodic")
def retention_of_organisation(*, organisation_id: int) -> int:
    """Apply one organisation's retention rule; safe to run twice (the second finds none)."""
    from publikum.audience.privacy import retention_apply
    from publikum.core.models import Organisation

    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        return 0
    return retention_apply(organisation=organisation)


# --- lifecycle: stages and RFM scores, recomputed daily ------------------------------------


@periodic("audience.lifecycle", every=timedelta(days=1))
@job(queue_name="periodic")
def lifecycle_all() -> int:
    """Fan out: per organisation that has contacts, one job for stages and scores and one
    for the theme summary of the segments."""
    from django.db.models import Exists, OuterRef

    from publikum.audience.models import Contact
    from publikum.core.models import Organisation

    has_contacts = Exists(Contact.objects.filter(organisation=OuterRef("pk")))
    ids = list(
        Organisation.objects.filter(has_contacts).order_by("pk").values_list("pk", flat=True)
    )
    for organisation_id in ids:
        lifecycle_of_organisation.enqueue(organisation_id=organisation_id)
        theme_summary_of_organisation.enqueue(organisation_id=organisation_id)
    return len(ids)


@job(queue_name="periodic")
def lifecycle_of_organisation(*, organisation_id: int) -> int:
    """Recompute one organisation's stages and scores; returns the number of stage changes.

    Safe to run twice: a second run finds every stage as the first one left it.
    """
    from publikum.audience.lifecycle import lifecycle_recompute
    from publikum.core.models import Organisation

    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        return 0
    return lifecycle_recompute(organisation=organisation).changed


@job(queue_name="periodic")
def theme_summary_of_organisation(*, organisation_id: int) -> int:
    """Correct one organisation's contact × theme summary against the timeline; returns the
    number of rows corrected (0 on a quiet day). Safe to run twice."""
    from publikum.audience.lifecycle import theme_summary_correct
    from publikum.core.models import Organisation

    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        return 0
    return theme_summary_correct(organisation=organisation).corrected
