"""Research reads: the model registry, dataset snapshots and training jobs."""

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet

from labeling.models import DatasetSnapshot, Job, ModelVersion


def _filtered(qs: QuerySet, filters: dict | None, allowed: dict[str, list[str]]) -> QuerySet:
    """Exact-match filters on choice fields; an unknown value is a 400, not an empty list."""
    for key, choices in allowed.items():
        value = (filters or {}).get(key)
        if value in (None, ""):
            continue
        if value not in choices:
            raise ValidationError({key: [f"unknown value {value!r} (allowed: {', '.join(choices)})"]})
        qs = qs.filter(**{key: value})
    return qs


def model_version_list(*, filters: dict | None = None) -> QuerySet[ModelVersion]:
    """Model versions, newest first; ``filters``: ``kind``. The job and its snapshots come along (the list
    shows each model's iteration and training data: without this, two queries per model listed)."""
    # Only the columns the list shows come along: a job row carries its per-step metrics and log, a snapshot
    # its filters; loading them for 500 models was most of the list's time.
    jobs = Job.objects.only("id", "iteration_id").prefetch_related(
        Prefetch("input_snapshots", queryset=DatasetSnapshot.objects.only("id")))
    qs = ModelVersion.objects.prefetch_related(Prefetch("job", queryset=jobs)).order_by("-created_at", "-id")
    return _filtered(qs, filters, {"kind": ModelVersion.Kind.values})


def model_version_rows(*, filters: dict | None = None) -> QuerySet[dict]:
    """The models list's columns as plain rows, newest first (``filters``: ``kind``); with
    :func:`model_version_snapshot_ids` for a page's training data. A page of 500 models as instances
    (each with its prefetched job) cost ~4x the CPU, and the garbage collector's pauses set the list's p99."""
    qs = ModelVersion.objects.order_by("-created_at", "-id").values(
        "id", "name", "kind", "parent_id", "reward_model_id", "metrics", "job_id", "job__iteration_id", "created_at")
    return _filtered(qs, filters, {"kind": ModelVersion.Kind.values})


def model_version_snapshot_ids(job_ids: list[int]) -> dict[int, list[int]]:
    """job id → the sorted ids of the snapshots that job read, for the given jobs (one query)."""
    out: dict[int, list[int]] = {}
    links = Job.input_snapshots.through.objects.filter(job_id__in=job_ids).order_by("datasetsnapshot_id")
    for job_id, snapshot_id in links.values_list("job_id", "datasetsnapshot_id"):
        out.setdefault(job_id, []).append(snapshot_id)
    return out


def snapshot_list(*, filters: dict | None = None) -> QuerySet[DatasetSnapshot]:
    """Dataset snapshots, newest first, with their campaign ids; ``filters``: ``kind``."""
    qs = DatasetSnapshot.objects.prefetch_related("campaigns").order_by("-created_at", "-id")
    return _filtered(qs, filters, {"kind": DatasetSnapshot.Kind.values})


JOB_LIST_COLUMNS = ("id", "kind", "status", "params", "inputs", "progress", "attempts", "cancel_requested", "error",
                    "created_by__username", "created_at", "started_at", "finished_at", "heartbeat_at", "iteration_id",
                    "stage")


def job_rows(*, filters: dict | None = None) -> QuerySet[dict]:
    """The jobs list's columns as plain rows, newest first (``filters``: ``kind``, ``status``); the heavy ones
    (metrics, log, result) stay in the database. With :func:`job_input_ids` for a page's inputs. Rows, not
    instances: a page of 200 jobs as instances cost more CPU, and the collector's pauses set the list's p99."""
    qs = Job.objects.order_by("-created_at", "-id").values(*JOB_LIST_COLUMNS)
    return _filtered(qs, filters, {"kind": Job.Kind.values, "status": Job.Status.values})


def job_input_ids(job_ids: list[int]) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """job id → sorted ids of the snapshots, and of the models, those jobs read (two queries)."""
    models: dict[int, list[int]] = {}
    links = Job.input_models.through.objects.filter(job_id__in=job_ids).order_by("modelversion_id")
    for job_id, model_id in links.values_list("job_id", "modelversion_id"):
        models.setdefault(job_id, []).append(model_id)
    return model_version_snapshot_ids(job_ids), models


def job_get(*, job_id: int) -> Job:
    """One job with everything (metrics rows and log tail); raises ``Job.DoesNotExist``."""
    return Job.objects.prefetch_related("input_snapshots", "input_models").get(pk=job_id)
