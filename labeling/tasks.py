"""Celery tasks: another interface onto the services, like the API. Ids in, a service call, a
small JSON-able result out; no logic here."""

from celery import shared_task

from labeling.services.dashboard_reports import report_refresh, reports_refresh_stale
from labeling.services.dashboards import progress_refresh
from labeling.services.queue import assignments_expire_stale


@shared_task(name="labeling.tasks.expire_stale_leases", ignore_result=True)
def expire_stale_leases() -> int:
    """Beat job (settings.CELERY_BEAT_SCHEDULE): free the slots of leases past their deadline."""
    return assignments_expire_stale()


@shared_task(name="labeling.tasks.refresh_dashboards", ignore_result=True)
def refresh_dashboards() -> dict:
    """Beat job: bring the progress aggregates up to date, then queue recomputation of stale quality reports."""
    done = progress_refresh()
    done["reports_queued"] = reports_refresh_stale()
    return done


@shared_task(name="labeling.tasks.refresh_report", ignore_result=True)
def refresh_report(key: str) -> float | None:
    """Recompute one materialised report (a campaign's agreement or signals, the leaderboard)."""
    return report_refresh(key=key)
