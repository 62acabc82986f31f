"""Celery tasks: another interface onto the services, like the API. Ids in, a service call, a
small JSON-able result out; no logic here."""

from celery import shared_task

from labeling.services.queue import assignments_expire_stale


@shared_task(name="labeling.tasks.expire_stale_leases", ignore_result=True)
def expire_stale_leases() -> int:
    """Beat job (settings.CELERY_BEAT_SCHEDULE): free the slots of leases past their deadline."""
    return assignments_expire_stale()
