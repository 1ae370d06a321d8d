"""Background jobs of journeys and delivery.

Delivery is event-driven: queueing a message enqueues `deliver_due` after commit
(`delivery.delivery_kick`), so a mail due now leaves within seconds. The sweep every minute
is the safety net: it reaps the claims of dead workers and starts a run for anything due
that no job is on its way for (a retry or the end of quiet hours on a task backend that
cannot defer a job).
"""

from __future__ import annotations

from datetime import timedelta

from publikum.core.jobs import job, periodic


@job(queue_name="mail")
def deliver_due() -> int:
    """Send every due message, batch after batch, until nothing is due; returns how many
    were sent. Safe to run twice and on several workers at once (claims)."""
    from publikum.journeys.delivery import messages_deliver

    return messages_deliver().sent


@periodic("journeys.delivery_sweep", every=timedelta(minutes=1))
@job(queue_name="periodic")
def delivery_sweep() -> bool:
    """Reap expired claims and start a delivery run if anything is due."""
    from publikum.journeys import delivery

    return delivery.delivery_sweep()
