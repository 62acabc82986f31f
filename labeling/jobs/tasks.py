"""Celery tasks for jobs, exports, imports and their sweep: thin (ids in, a service does the work).

``run_training_job`` is routed to the ``gpu`` queue (settings.CELERY_TASK_ROUTES); the rest run on
``default``. Loaded by workers through ``CELERY_IMPORTS``.
"""
from celery import shared_task


@shared_task(name="labeling.jobs.tasks.run_training_job", acks_late=True)
def run_training_job(job_id: int) -> str | None:
    """Run one training job (its status is recorded on the Job row; nothing to retry here)."""
    from labeling.jobs.runner import run_job

    return run_job(job_id)


@shared_task(name="labeling.jobs.tasks.run_export_job", acks_late=True)
def run_export_job(job_id: int) -> str | None:
    """Run one export job (snapshots of campaigns) on the default queue."""
    from labeling.jobs.export_job import run_export

    return run_export(job_id)


@shared_task(name="labeling.jobs.tasks.run_import_job", acks_late=True)
def run_import_job(job_id: int) -> str | None:
    """Run one prompt import job (a large uploaded file) on the default queue."""
    from labeling.jobs.import_job import run_import

    return run_import(job_id)


def task_for_kind(kind: str):
    """The Celery task that runs a job of this kind."""
    return {"export": run_export_job, "import": run_import_job}.get(kind, run_training_job)


@shared_task(name="labeling.jobs.tasks.sweep_jobs", ignore_result=True)
def sweep_jobs() -> dict:
    """Beat: re-queue or fail jobs whose worker died, re-dispatch lost ones, remove abandoned export folders,
    advance iterations and start campaign-triggered ones."""
    from labeling.jobs.sweep import jobs_sweep

    return jobs_sweep()
