"""Prompt import jobs as the admin screen reads them (``GET /campaigns/{id}/prompts/imports/{job_id}``)."""

from labeling.models import Campaign, Job


def campaign_import_job(*, campaign: Campaign, job_id: int) -> Job:
    """The ``import`` job ``job_id`` of ``campaign``; ``Job.DoesNotExist`` for any other job."""
    return Job.objects.get(pk=job_id, kind=Job.Kind.IMPORT, params__campaign_id=campaign.pk)


def import_job_view(job: Job) -> dict:
    """What the admin screen shows: status, the latest counters (lines and bytes read, phase), then the
    import report, or the line-numbered errors of a rejected file."""
    latest = job.metrics[-1] if job.metrics else {}
    succeeded = job.status == Job.Status.SUCCEEDED
    result = job.result or {}
    return {
        "id": job.pk, "status": job.status, "filename": job.params.get("filename", ""),
        "bytes_total": job.params.get("bytes_total"), "bytes_read": latest.get("bytes_read", 0),
        "lines_read": latest.get("lines_read", 0), "phase": latest.get("phase", "queued"),
        "progress": job.progress, "created_at": job.created_at, "started_at": job.started_at,
        "finished_at": job.finished_at, "report": result if succeeded else None,
        "errors": result.get("errors", []), "bad_lines": result.get("bad_lines"), "error": job.error,
    }
