"""Gold serving and qualification: which campaigns the queue asks gold of first, and who may label at all.

Gold share: for each campaign in a ``next`` request, a draw below ``gold_fraction`` makes the queue
try a gold task the labeler has never had (``assignment_once_per_labeler`` makes "never twice"
structural) before an ordinary one. Without gold left, the ordinary task is served: the draw
costs one extra statement then, and nothing for a campaign with ``gold_fraction`` 0.

Qualification (``Campaign.qualification_gold_tasks`` = N > 0): until a labeler has submitted N gold
rankings in the campaign, the queue serves them gold tasks only. Their pairwise agreement with the
gold over those N (``selectors.quality.ranking_agreement``: a tie where gold orders is a miss)
decides: at least ``qualification_min_agreement`` passes and real tasks follow; below fails, and
the campaign serves them nothing until an admin re-opens it (``qualification_reopen``: the next N
gold tasks they have not seen decide again). A campaign without qualification costs no query.
"""
from __future__ import annotations

import random

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling.models import Assignment, Campaign, LabelerQualification, Task
from labeling.selectors.quality import gold_groups, ranking_agreement

Status = LabelerQualification.Status
_rng = random.SystemRandom()


def _gold_answers_since(labeler_id: int, campaign: Campaign, since) -> list[tuple[list, list]]:
    """(gold groups, answer groups) of the labeler's gold rankings in ``campaign``, oldest first."""
    qs = Assignment.objects.filter(campaign=campaign, labeler_id=labeler_id, status=Assignment.Status.SUBMITTED,
                                   task__kind=Task.Kind.RANKING, task__gold_answer__isnull=False)
    if since is not None:
        qs = qs.filter(submitted_at__gte=since)
    rows = qs.order_by("submitted_at", "id").values_list("task__gold_answer", "ranking__groups")
    return [(gold_groups(gold), groups) for gold, groups in rows if gold_groups(gold) and groups]


def qualification_evaluate(*, labeler_id: int, campaign: Campaign,
                           state: LabelerQualification | None) -> LabelerQualification:
    """Decide a pending qualification once N gold rankings are in; returns the (possibly unsaved) state.

    Writes only when it decides. Two racing requests may both decide: the verdict is the same (same
    labels), and the unique constraint keeps one row.
    """
    state = state or LabelerQualification(campaign=campaign, labeler_id=labeler_id)
    answers = _gold_answers_since(labeler_id, campaign, state.started_at)[:campaign.qualification_gold_tasks]
    if len(answers) < campaign.qualification_gold_tasks:
        return state
    agree = pairs = 0
    for gold, groups in answers:
        a, n = ranking_agreement(gold, groups)
        agree, pairs = agree + a, pairs + n
    state.agreement = agree / pairs if pairs else 0.0
    state.gold_pairs = pairs
    state.status = Status.PASSED if state.agreement >= campaign.qualification_min_agreement else Status.FAILED
    state.decided_at = timezone.now()
    try:
        with transaction.atomic():
            state.save()
    except IntegrityError:  # another request of this labeler decided first
        return LabelerQualification.objects.get(campaign=campaign, labeler_id=labeler_id)
    return state


def qualification_scope(*, labeler, campaigns: dict[int, Campaign]) -> tuple[dict[int, Campaign], set[int]]:
    """The campaigns the labeler may be served from, and among them those where they are still
    qualifying (gold only). One query if any campaign requires qualification, none otherwise."""
    requiring = [cid for cid, c in campaigns.items() if c.qualification_gold_tasks]
    if not requiring:
        return campaigns, set()
    states = {q.campaign_id: q for q in LabelerQualification.objects.filter(labeler=labeler, campaign_id__in=requiring)}
    allowed, qualifying = dict(campaigns), set()
    for cid in requiring:
        state = states.get(cid)
        if state is None or state.status == Status.PENDING:
            state = qualification_evaluate(labeler_id=labeler.pk, campaign=campaigns[cid], state=state)
        if state.status == Status.FAILED:
            del allowed[cid]
        elif state.status == Status.PENDING:
            qualifying.add(cid)
    return allowed, qualifying


def serving_plan(*, labeler, campaigns: dict[int, Campaign], rng=_rng) -> tuple[dict, dict]:
    """(campaigns to try a gold task in first, campaigns to lease an ordinary task in)."""
    campaigns, qualifying = qualification_scope(labeler=labeler, campaigns=campaigns)
    gold_first = {cid: c for cid, c in campaigns.items()
                  if cid in qualifying or (c.gold_fraction > 0 and rng.random() < c.gold_fraction)}
    ordinary = {cid: c for cid, c in campaigns.items() if cid not in qualifying}
    return gold_first, ordinary


def campaign_set_qualification(*, campaign: Campaign, gold_tasks: int, min_agreement: float) -> Campaign:
    """Require ``gold_tasks`` gold rankings with ``min_agreement`` before real tasks (0 tasks: no
    qualification). Raises ValidationError for a count outside 0–100 or an agreement outside [0, 1]."""
    errors = {}
    if isinstance(gold_tasks, bool) or not isinstance(gold_tasks, int) or not 0 <= gold_tasks <= 100:
        errors["gold_tasks"] = ["a whole number from 0 (no qualification) to 100"]
    if isinstance(min_agreement, bool) or not isinstance(min_agreement, int | float) or not 0 <= min_agreement <= 1:
        errors["min_agreement"] = ["a number in [0, 1]"]
    if errors:
        raise ValidationError(errors)
    Campaign.objects.filter(pk=campaign.pk).update(qualification_gold_tasks=gold_tasks,
                                                   qualification_min_agreement=float(min_agreement),
                                                   updated_at=timezone.now())
    campaign.refresh_from_db()
    return campaign


def qualification_reopen(*, campaign: Campaign, labeler_id: int, by) -> LabelerQualification:
    """Give a labeler a new qualification round in ``campaign``: pending again, counting gold
    labels from now (so the next N gold tasks they have not seen decide)."""
    with transaction.atomic():
        state, _ = LabelerQualification.objects.select_for_update().get_or_create(campaign=campaign,
                                                                                  labeler_id=labeler_id)
        state.status, state.agreement, state.gold_pairs, state.decided_at = Status.PENDING, None, 0, None
        state.started_at, state.reopened_by, state.reopen_count = timezone.now(), by, state.reopen_count + 1
        state.save()
    return state


def qualification_status(*, campaign: Campaign, labeler) -> dict:
    """What a labeler sees of their qualification: ``{"required", "gold_tasks", "min_agreement",
    "status": "not_required"|"pending"|"passed"|"failed", "done", "agreement", "decided_at"}``."""
    base = {"required": campaign.qualification_gold_tasks > 0, "gold_tasks": campaign.qualification_gold_tasks,
            "min_agreement": campaign.qualification_min_agreement}
    if not base["required"]:
        return {**base, "status": "not_required", "done": 0, "agreement": None, "decided_at": None}
    state = LabelerQualification.objects.filter(campaign=campaign, labeler=labeler).first()
    if state is None or state.status == Status.PENDING:
        state = qualification_evaluate(labeler_id=labeler.pk, campaign=campaign, state=state)
    done = len(_gold_answers_since(labeler.pk, campaign, state.started_at)[:campaign.qualification_gold_tasks])
    return {**base, "status": state.status, "done": done, "agreement": state.agreement,
            "decided_at": state.decided_at}
