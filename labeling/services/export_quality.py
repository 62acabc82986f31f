"""Which labels a snapshot reads, by quality (issue 10, item 7), and what the manifest says about it.

``labeling.services.exports`` writes the files; this module only chooses the rows it reads and
describes the choice. Options (``ExportQuality``; ``clean_export_quality`` validates a dict):

- ``exclude_rejected`` (default true): leave out labels a reviewer rejected (``LabelReview``).
- ``exclude_flagged`` (default false): leave out every label of a labeler with a bad-labeling signal
  in that campaign (``selectors.signals``).
- ``min_labeler_agreement`` (default none): leave out labelers whose pairwise agreement with the
  others in that campaign (``selectors.agreement``, InstructGPT's figure) is below this value;
  a labeler with no overlapping label has no figure and is left out too (nothing vouches for them).
- ``rankings``: ``"raw"`` (default: one row per labeler's ranking, as Open-Assistant's users asked)
  or ``"consensus"`` (one row per task with at least two kept rankings: their Ranked Pairs merge,
  ``labeler: "consensus"``, no ratings, plus ``labelers`` and ``agreement``).

The manifest records the options, the labelers left out and the agreement figures of exactly the
rankings exported (``manifest_quality``), so a reward model can be traced to the data's quality.
"""
from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet

from labeling.models import Assignment, Campaign, Ranking, Task
from labeling.selectors.agreement import figures, labeler_figures, task_agreements
from labeling.selectors.consensus import records_consensus
from labeling.selectors.label_records import by_task, label_records, rejected_assignments
from labeling.selectors.signals import flagged_labeler_ids

RANKING_MODES = ("raw", "consensus")
MANIFEST_BOOTSTRAP = 500
MANIFEST_MAX_TASKS = 2000


@dataclass(frozen=True)
class ExportQuality:
    exclude_rejected: bool = True
    exclude_flagged: bool = False
    min_labeler_agreement: float | None = None
    rankings: str = "raw"

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def needs_labeler_screen(self) -> bool:
        return self.exclude_flagged or self.min_labeler_agreement is not None


DEFAULT = ExportQuality()


def clean_export_quality(raw: dict | None) -> ExportQuality:
    """An ``ExportQuality`` from a request's ``quality`` object; ValidationError naming each bad key."""
    if raw is None:
        return DEFAULT
    if not isinstance(raw, dict):
        raise ValidationError({"quality": ["expected an object such as {\"exclude_flagged\": true}"]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(raw) - set(ExportQuality.__dataclass_fields__))
    if unknown:
        errors["quality"] = [f"unknown option(s): {', '.join(unknown)}"]
    for key in ("exclude_rejected", "exclude_flagged"):
        if key in raw and not isinstance(raw[key], bool):
            errors[f"quality.{key}"] = ["expected true or false"]
    minimum = raw.get("min_labeler_agreement")
    if minimum is not None and (isinstance(minimum, bool) or not isinstance(minimum, int | float)
                                or not 0.0 <= minimum <= 1.0):
        errors["quality.min_labeler_agreement"] = ["expected a number in [0, 1] or null"]
    if raw.get("rankings", "raw") not in RANKING_MODES:
        errors["quality.rankings"] = [f"expected one of {', '.join(RANKING_MODES)}"]
    if errors:
        raise ValidationError(errors)
    return ExportQuality(**{k: v for k, v in raw.items()})


def excluded_labelers(campaign_ids: list[int], quality: ExportQuality) -> dict[int, set[int]]:
    """Per campaign, the labeler ids the options leave out (empty sets without a labeler screen)."""
    excluded: dict[int, set[int]] = {cid: set() for cid in campaign_ids}
    if not quality.needs_labeler_screen:
        return excluded
    for campaign in Campaign.objects.filter(pk__in=campaign_ids):
        if quality.exclude_flagged:
            excluded[campaign.pk] |= flagged_labeler_ids(campaign=campaign)
        if quality.min_labeler_agreement is not None:
            records = label_records(campaign_ids=[campaign.pk])
            tasks = task_agreements(records)
            for labeler in {r.labeler_id for r in records}:
                value = labeler_figures(tasks, labeler, n_boot=100)["pairwise_agreement"]["value"]
                if value is None or value < quality.min_labeler_agreement:
                    excluded[campaign.pk].add(labeler)
    return excluded


def submitted_labels(campaign_ids: list[int], quality: ExportQuality = DEFAULT,
                     excluded: dict[int, set[int]] | None = None) -> QuerySet[Assignment]:
    """The submitted assignments of ``campaign_ids`` that ``quality`` keeps (any task kind)."""
    qs = Assignment.objects.filter(status=Assignment.Status.SUBMITTED, campaign_id__in=campaign_ids)
    if quality.exclude_rejected:
        qs = qs.filter(~rejected_assignments())
    for campaign_id, labelers in (excluded or {}).items():
        if labelers:
            qs = qs.exclude(campaign_id=campaign_id, labeler_id__in=labelers)
    return qs


def rankings_for_export(campaign_ids: list[int], quality: ExportQuality = DEFAULT,
                        excluded: dict[int, set[int]] | None = None) -> Iterator[Ranking]:
    """The rankings a comparisons snapshot reads, oldest first, with ``assignment.task.prompt`` loaded.

    In consensus mode each yielded Ranking is unsaved: ``groups`` is the merge of the task's kept
    rankings, ``assignment`` the first of them (for the task and prompt), and ``row_overrides``
    carries what the row must say instead of that one labeler's data.
    """
    kept = submitted_labels(campaign_ids, quality, excluded)
    rankings = (Ranking.objects.filter(assignment__in=kept).select_related("assignment__task__prompt")
                .order_by("id"))
    if quality.rankings == "raw":
        yield from rankings.iterator(chunk_size=1000)
        return
    by_id = {r.assignment_id: r for r in rankings}
    records = label_records(campaign_ids=campaign_ids, include_rejected=not quality.exclude_rejected)
    for task_records in by_task([r for r in records if r.assignment_id in by_id]).values():
        if len(task_records) < 2:
            continue
        summary = records_consensus(task_records)
        first = by_id[task_records[0].assignment_id]
        merged = Ranking(assignment=first.assignment, groups=summary["consensus"], none_acceptable=False)
        merged.row_overrides = {"labeler": "consensus", "ratings": [], "labelers": summary["labelers"],
                                "agreement": summary["agreement"]}
        yield merged


def manifest_quality(campaign_ids: list[int], quality: ExportQuality, excluded: dict[int, set[int]],
                     kind: str, rankings_read: int | None = None) -> dict:
    """The manifest's ``quality`` block: the options, how many labelers each campaign left out, and
    (comparisons) the agreement figures of the rankings that were exported.

    Only tasks with two kept rankings or a gold answer move any figure, so only theirs are read. Above
    ``MANIFEST_MAX_TASKS`` such tasks the figures come from an even sample of them by task id (recorded
    as ``agreement_sample``), so a snapshot of millions of rankings keeps a bounded memory and time here.
    ``rankings_read``: how many rankings the export's stream read, when it counted them.
    """
    block = {"options": quality.as_dict(),
             "excluded_labelers": {str(cid): len(ids) for cid, ids in sorted(excluded.items())}}
    if kind == "comparisons":
        kept = submitted_labels(campaign_ids, quality, excluded)
        ranked = kept.filter(task__kind=Task.Kind.RANKING, ranking__isnull=False)
        # The export's own stream counts them as it reads (same snapshot); counted here otherwise.
        block["rankings_read"] = ranked.count() if rankings_read is None else rankings_read
        tasks = (ranked.order_by().values("task_id").annotate(n=Count("id"), gold=Count("task__gold_answer"))
                 .filter(Q(n__gte=2) | Q(gold__gt=0)).order_by("task_id").values_list("task_id", flat=True))
        # One pass, ids packed 8 bytes each (40 MB at 5M tasks): a count first would run the GROUP BY twice.
        every = array("q", tasks.iterator(chunk_size=5000))
        total = len(every)
        stride = -(-total // MANIFEST_MAX_TASKS) if total else 1
        sample = list(every[::stride])
        del every
        records = label_records(campaign_ids=campaign_ids, include_rejected=not quality.exclude_rejected,
                                task_ids=sample, within=kept)
        block["agreement"] = figures(task_agreements(records), n_boot=MANIFEST_BOOTSTRAP)
        if stride > 1:
            block["agreement_sample"] = {"tasks": len(sample), "of": total, "every": stride}
    return block
