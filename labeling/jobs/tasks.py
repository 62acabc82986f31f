"""Celery tasks for exports and training jobs: thin (ids in, a service does the work).

``run_training_job`` is routed to the ``gpu`` queue (settings.CELERY_TASK_ROUTES); the rest run
on ``default``. Loaded by workers through ``CELERY_IMPORTS``.
"""
from celery import shared_task


@shared_task(name="labeling.jobs.tasks.run_training_job", acks_late=True)
def run_training_job(job_id: int) -> str | None:
    """Run one training job (its status is recorded on the Job row; nothing to retry here)."""
    from labeling.jobs.runner import run_job

    return run_job(job_id)


@shared_task(name="labeling.jobs.tasks.create_snapshot")
def create_snapshot(kind: str, campaign_ids: list[int], name: str | None = None, valid_fraction: float = 0.1,
                    seed: int = 0, created_by_id: int | None = None) -> int:
    """Export a dataset snapshot; returns the DatasetSnapshot id."""
    from django.contrib.auth import get_user_model

    from labeling.services.exports import snapshot_create

    user = get_user_model().objects.filter(pk=created_by_id).first() if created_by_id else None
    snapshot = snapshot_create(kind=kind, campaign_ids=campaign_ids, name=name, valid_fraction=valid_fraction,
                               seed=seed, created_by=user)
    return snapshot.pk
