"""Materialised reports: quality figures and the leaderboard, computed once and stored with ``computed_at``.

The agreement report, the labeler signals and the leaderboard read every label of a campaign and
bootstrap over them: seconds to minutes at millions of labels. They are computed by a worker
(``labeling.tasks.refresh_report``) into ``DashboardReport`` and the page shows the stored one "as of"
its time. Reading (``report_read``):

- a stored report whose *fingerprint* (latest label time, latest review id, the evaluations' state)
  still matches is current: returned as is;
- a small campaign (at most ``QUALITY_SYNC_MAX_LABELS`` labels) is computed in the request, as before;
- otherwise the stored report is returned marked stale and a worker recomputes it once it is older
  than ``QUALITY_MAX_AGE_S``; with nothing stored yet the caller answers "computing" (202).

Stale-by-minutes is the accepted cost for statistics whose intervals move slowly. The beat sweep
(``reports_refresh_stale``) keeps every report someone asked for at most ``QUALITY_MAX_AGE_S`` behind.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from labeling.models import Assignment, Campaign, DashboardReport, Evaluation, LabelReview

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportSpec:
    compute: Callable[[dict], dict]
    campaign_ids: Callable[[dict], list[int]]


def _agreement(params: dict) -> dict:
    from labeling.selectors.agreement import campaign_agreement
    return campaign_agreement(campaign=Campaign.objects.get(pk=params["campaign"]), n_boot=params["n_boot"])


def _labelers(params: dict) -> dict:
    from labeling.selectors.signals import campaign_labeler_signals
    return campaign_labeler_signals(campaign=Campaign.objects.get(pk=params["campaign"]), n_boot=params["n_boot"])


def _leaderboard(params: dict) -> dict:
    from labeling.selectors.evaluations import leaderboard
    return leaderboard(evaluation_ids=params["evaluations"] or None)


def _evaluations(params: dict):
    from labeling.selectors.evaluations import COUNTED
    qs = Evaluation.objects.filter(status__in=COUNTED)
    return qs.filter(pk__in=params["evaluations"]) if params["evaluations"] else qs


REPORTS = {
    "agreement": ReportSpec(_agreement, lambda p: [p["campaign"]]),
    "labelers": ReportSpec(_labelers, lambda p: [p["campaign"]]),
    "leaderboard": ReportSpec(_leaderboard, lambda p: list(_evaluations(p).values_list("campaign_id", flat=True))),
}


def report_key(name: str, params: dict) -> str:
    """The stored report's key: its name and canonical parameters."""
    return f"{name}:{json.dumps(params, sort_keys=True, separators=(',', ':'))}"


def _parse(key: str) -> tuple[str, dict]:
    name, _, params = key.partition(":")
    return name, json.loads(params)


def _fingerprint(name: str, params: dict) -> dict:
    """What the report depends on, read cheaply: the latest label in its campaigns (an index probe on
    (campaign, submitted_at)), the latest review anywhere, and for the leaderboard its evaluations' state."""
    ids = REPORTS[name].campaign_ids(params)
    last = (Assignment.objects.filter(campaign_id__in=ids, status=Assignment.Status.SUBMITTED)
            .aggregate(m=Max("submitted_at"))["m"])
    found = {"last_label": last.isoformat() if last else None,
             "last_review": LabelReview.objects.aggregate(m=Max("id"))["m"]}
    if name == "leaderboard":
        found["evaluations"] = [[e.pk, e.status, e.updated_at.isoformat()] for e in _evaluations(params).order_by("pk")]
    return found


def _size(name: str, params: dict) -> int:
    """Labels behind the report, counted only up to ``QUALITY_SYNC_MAX_LABELS + 1`` (a bounded index walk:
    all the caller needs is "small or not", and it must not wait for a sweep)."""
    ids = REPORTS[name].campaign_ids(params)
    cap = settings.QUALITY_SYNC_MAX_LABELS + 1
    return Assignment.objects.filter(campaign_id__in=ids, status=Assignment.Status.SUBMITTED)[:cap].count()


def _store(key: str, name: str, params: dict, fingerprint: dict) -> DashboardReport:
    started = time.perf_counter()
    payload = json.loads(json.dumps(REPORTS[name].compute(params), default=str))
    campaign_id = params.get("campaign")
    row, _ = DashboardReport.objects.update_or_create(key=key, defaults={
        "campaign_id": campaign_id, "payload": payload, "fingerprint": fingerprint, "computed_at": timezone.now(),
        "seconds": time.perf_counter() - started, "requested_at": None})
    return row


def _dispatch(key: str) -> bool:
    """Send a refresh to a worker; False (logged) when the broker is unreachable: the beat sweep retries."""
    from labeling.tasks import refresh_report
    try:
        refresh_report.apply_async(args=[key], retry=False)
    except Exception as exc:  # kombu raises several types for "broker down"; all mean "send later"
        logger.warning("report %s: broker unavailable, the sweep will retry: %s", key, exc)
        return False
    DashboardReport.objects.filter(key=key).update(requested_at=timezone.now())
    return True


def _meta(row: DashboardReport | None, *, stale: bool) -> dict:
    return {"as_of": row.computed_at if row else None, "stale": stale, "computing": row is None or stale,
            "compute_seconds": row.seconds if row else None}


def report_read(*, name: str, params: dict, now: datetime | None = None) -> tuple[dict | None, dict]:
    """The report ``name`` ("agreement", "labelers", "leaderboard") for ``params``, and its state:
    ``(payload or None, {"as_of", "stale", "computing", "compute_seconds"})``. Computes in the request only
    for small campaigns; otherwise returns what is stored and, if that is stale and old, asks a worker."""
    now = now or timezone.now()
    key = report_key(name, params)
    fingerprint = _fingerprint(name, params)
    row = DashboardReport.objects.filter(key=key).first()
    if row is not None and row.fingerprint == fingerprint:
        return row.payload, _meta(row, stale=False)
    if _size(name, params) <= settings.QUALITY_SYNC_MAX_LABELS:
        row = _store(key, name, params, fingerprint)
        return row.payload, _meta(row, stale=False)
    if row is None:
        DashboardReport.objects.get_or_create(key=key, defaults={
            "campaign_id": params.get("campaign"), "computed_at": now, "fingerprint": {"pending": True}})
        _request(key, now)
        return None, _meta(None, stale=True)
    if now - row.computed_at > timedelta(seconds=settings.QUALITY_MAX_AGE_S):
        _request(key, now)
    return (row.payload or None), _meta(row if row.payload else None, stale=True)


def _request(key: str, now: datetime) -> bool:
    """Ask a worker for ``key`` unless a request is already pending (sent within the max age)."""
    pending = DashboardReport.objects.filter(
        key=key, requested_at__gt=now - timedelta(seconds=settings.QUALITY_MAX_AGE_S)).exists()
    return False if pending else _dispatch(key)


def report_request_refresh(*, name: str, params: dict) -> bool:
    """An admin's "refresh now": recompute ``name`` for ``params`` in a worker (in the request for a
    small campaign). Returns True when it was computed here."""
    key = report_key(name, params)
    if _size(name, params) <= settings.QUALITY_SYNC_MAX_LABELS:
        _store(key, name, params, _fingerprint(name, params))
        return True
    DashboardReport.objects.get_or_create(key=key, defaults={
        "campaign_id": params.get("campaign"), "computed_at": timezone.now(), "fingerprint": {"pending": True}})
    _dispatch(key)
    return False


def report_refresh(*, key: str) -> float | None:
    """Recompute and store the report ``key`` (the worker's task). Returns the seconds it took, or None for a
    report whose campaign or evaluations are gone (its row is dropped)."""
    name, params = _parse(key)
    if name not in REPORTS:
        return None
    if "campaign" in params and not Campaign.objects.filter(pk=params["campaign"]).exists():
        DashboardReport.objects.filter(key=key).delete()
        return None
    return _store(key, name, params, _fingerprint(name, params)).seconds


def reports_refresh_stale(*, now: datetime | None = None) -> int:
    """Beat: ask a worker for every stored report older than ``QUALITY_MAX_AGE_S`` whose inputs changed
    (or whose last request was lost). Returns how many were sent."""
    now = now or timezone.now()
    old = now - timedelta(seconds=settings.QUALITY_MAX_AGE_S)
    sent = 0
    for row in DashboardReport.objects.filter(computed_at__lt=old).exclude(requested_at__gt=old).only(
            "key", "fingerprint"):
        name, params = _parse(row.key)
        if name in REPORTS and row.fingerprint != _fingerprint(name, params):
            sent += _dispatch(row.key)
    return sent
