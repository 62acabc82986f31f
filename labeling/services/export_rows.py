"""What a snapshot holds, per kind, as a stream of ``(author, line, pairwise lines)`` plus its authors.

Rows per kind (DESIGN §4 file contracts):

    sft          {"messages": [...prompt turns..., {"role": "assistant", "content": demo}]}
    comparisons  {"prompt": [...], "completions": ["...", ...], "ranking": [[2], [0, 3], [1]],
                  "ratings": [{"completion": 0, "likert": 6, "flags": [...]}, ...],
                  "none_acceptable": false, "labeler": "<sha256>", "prompt_id": 17, "ranking_id": 42}
    pairwise     {"prompt": [...], "chosen": [{assistant turn}], "rejected": [{assistant turn}],
                  "ranking_id": 42, "prompt_id": 17, "labeler": "<sha256>"}  (keep a ranking's pairs together,
                  filter labelers)
    prompts      {"prompt": [...], "prompt_id": 17, "category": "open_qa"}

Every line is ``json.dumps(row, ensure_ascii=False, sort_keys=True)``. ``ExportSource.authors()`` gives
the distinct authors of the rows (a ``SELECT DISTINCT`` streamed from the database) for the split,
before ``rows()`` streams them in id order; both read the same snapshot of the database
(``labeling.db_routing.export_reads``). Raw comparisons, the bulk of every export, come from
``export_comparisons``; consensus rows merge each task's rankings in memory (``export_quality``).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db import router
from django.db.models import CharField, F, Func, Value
from django.db.models.functions import Cast, Coalesce, Concat, NullIf

from labeling.models import Demonstration, Prompt, Ranking
from labeling.services import export_quality
from labeling.services.export_comparisons import comparison_lines
from labeling.services.export_quality import ExportQuality
from labeling.services.export_split import author_key

_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def labeler_hash(user_id: int) -> str:
    """A stable pseudonymous labeler id: sha256 of the deployment's secret and the user id."""
    return hashlib.sha256(f"prefloop-labeler:{settings.SECRET_KEY}:{user_id}".encode()).hexdigest()


def pairwise_view(row: dict) -> Iterator[dict]:
    """TRL's conversational preference rows for one comparison row: every (better, worse) pair; ties give none.

    Each pair carries its ranking, prompt and labeler ids, so a client can keep the C(K,2) pairs of one
    ranking together (one batch element, as InstructGPT trains) and filter labelers.
    """
    ranking = row["ranking"]
    ids = {"ranking_id": row.get("ranking_id"), "prompt_id": row.get("prompt_id"), "labeler": row.get("labeler")}
    for hi, better in enumerate(ranking):
        for worse in ranking[hi + 1:]:
            for w in better:
                for lo in worse:
                    yield {
                        "prompt": row["prompt"],
                        "chosen": [{"role": "assistant", "content": row["completions"][w]}],
                        "rejected": [{"role": "assistant", "content": row["completions"][lo]}],
                        **ids,
                    }


def _turns(messages) -> list[dict]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


class _LastRole(Func):
    """The role of a message list's last turn, in SQL (prompts the policy can answer end with a user turn)."""

    output_field = CharField()
    template = "(%(expressions)s -> -1 ->> 'role')"

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="json_extract(%(expressions)s, '$[#-1].role')", **extra)


def _author_sql(prefix: str):
    """The split's author (``export_split.author_key``) as a SQL expression over ``<prefix>author_id``."""
    return Coalesce(NullIf(F(f"{prefix}author_id"), Value("")),
                    Concat(Value("prompt:"), Cast(F(f"{prefix}id"), CharField())), output_field=CharField())


def _distinct_authors(queryset, prefix: str) -> Iterator[str]:
    authors = queryset.annotate(split_author=_author_sql(prefix)).values_list("split_author", flat=True)
    return authors.order_by().distinct().iterator(chunk_size=5000)


class ExportSource:
    """The rows of one export: ``authors()`` (distinct) and ``rows()`` as ``(author, line, pair lines)``."""

    def __init__(self, kind: str, campaign_ids: list[int], quality: ExportQuality, excluded: dict[int, set[int]]):
        self.kind, self.campaign_ids, self.quality, self.excluded = kind, campaign_ids, quality, excluded
        self._consensus: list[tuple[str, dict]] | None = None
        self.rankings_read: int | None = None  # raw comparisons: rankings rows() read, written or not

    def _kept(self):
        return export_quality.submitted_labels(self.campaign_ids, self.quality, self.excluded)

    def _queryset(self):
        if self.kind == "prompts":
            return Prompt.objects.filter(campaign_id__in=self.campaign_ids).annotate(
                last_role=_LastRole("messages")).filter(last_role="user")
        model = Demonstration if self.kind == "sft" else Ranking
        return model.objects.filter(assignment__in=self._kept())

    def authors(self) -> Iterable[str]:
        """Distinct authors of the selected labels. A ranking left out later as inexpressible (its task's
        completions changed after it was made) still counts its author here, and in the manifest's counts."""
        if self.kind == "comparisons" and self.quality.rankings == "consensus":
            return {author for author, _ in self._consensus_rows()}
        prefix = "" if self.kind == "prompts" else "assignment__task__prompt__"
        return _distinct_authors(self._queryset(), prefix)

    def rows(self) -> Iterator[tuple[str, str, list[str]]]:
        if self.kind == "comparisons" and self.quality.rankings == "consensus":
            for author, row in self._consensus_rows():
                yield author, _dumps(row) + "\n", [_dumps(pair) + "\n" for pair in pairwise_view(row)]
        elif self.kind == "comparisons":
            self.rankings_read = 0
            for built in comparison_lines(self._queryset(), router.db_for_read(Ranking), labeler_hash):
                self.rankings_read += 1
                if built is not None:
                    yield built
        elif self.kind == "sft":
            demos = self._queryset().order_by("id").values_list(
                "assignment__task__prompt__author_id", "assignment__task__prompt_id",
                "assignment__task__prompt__messages", "text")
            for author_id, prompt_id, messages, text in demos.iterator(chunk_size=2000):
                row = {"messages": [*_turns(messages), {"role": "assistant", "content": text}]}
                yield author_key(author_id, prompt_id), _dumps(row) + "\n", ()
        else:
            prompts = self._queryset().order_by("id").values_list("author_id", "id", "messages", "category")
            for author_id, prompt_id, messages, category in prompts.iterator(chunk_size=2000):
                row = {"prompt": _turns(messages), "prompt_id": prompt_id, "category": category}
                yield author_key(author_id, prompt_id), _dumps(row) + "\n", ()

    def _consensus_rows(self) -> list[tuple[str, dict]]:
        """Consensus rows (one per task with two kept rankings), computed once: they need every ranking anyway."""
        if self._consensus is None:
            from labeling.models import Task

            merged = list(export_quality.rankings_for_export(self.campaign_ids, self.quality, self.excluded))
            items: dict[int, list] = {}
            for task_id, cid, text in (
                Task.completions.through.objects.filter(task_id__in={r.assignment.task_id for r in merged})
                .order_by("task_id", "completion_id").values_list("task_id", "completion_id", "completion__text")
            ):
                items.setdefault(task_id, []).append((cid, text))
            self._consensus = []
            for ranking in merged:
                row = _consensus_row(ranking, items.get(ranking.assignment.task_id, []))
                if row is not None:
                    prompt = ranking.assignment.task.prompt
                    self._consensus.append((author_key(prompt.author_id, prompt.pk), row))
        return self._consensus


def _consensus_row(ranking: Ranking, items: list[tuple[int, str]]) -> dict | None:
    """A merged ranking's row (``export_quality.rankings_for_export`` in consensus mode), or None if inexpressible;
    ``items`` are the task's (completion id, text) in id order."""
    task = ranking.assignment.task
    index = {cid: i for i, (cid, _) in enumerate(items)}
    try:
        groups = [[index[cid] for cid in group] for group in ranking.groups]
    except KeyError:
        return None
    if sorted(i for g in groups for i in g) != list(range(len(items))) or len(items) < 2:
        return None
    row = {"prompt": _turns(task.prompt.messages), "completions": [text for _, text in items], "ranking": groups,
           "ratings": [], "none_acceptable": ranking.none_acceptable, "labeler": labeler_hash(ranking.assignment.labeler_id),
           "prompt_id": task.prompt_id, "ranking_id": ranking.pk}
    row.update(getattr(ranking, "row_overrides", {}))  # a consensus row speaks for several labelers
    return row
