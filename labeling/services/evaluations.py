"""Human evaluation (issue 11): blind pairwise comparisons of policies on held-out prompts.

``evaluation_create`` checks the prompts are held out (``labeling.selectors.evaluation_heldout``),
copies them into a new ranking campaign with K=2, exports them as a prompts snapshot and starts one
``generate`` job per policy (k=1, the same settings and seed). ``evaluation_advance`` runs when such a
job finishes (``labeling.jobs.runner.finish``) and from the beat sweep as a safety net: once every
policy's samples are in, it creates one ranking task per prompt and pair of policies (a labeler sees
two unnamed outputs in a per-assignment random order; a tie is one group) and, with a judge, starts
a ``score`` job on the very same texts. Samples of an evaluation's jobs never become ordinary ranking
tasks (``labeling.jobs.loop``).
"""
from __future__ import annotations

import itertools
import json
import logging
import random
import secrets
import shutil

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from labeling.jobs.command import generations_path
from labeling.jobs.kinds import validate_params
from labeling.jobs.loop import clean_samples
from labeling.jobs.services import job_create, job_dir
from labeling.models import Campaign, Completion, DatasetSnapshot, Evaluation, Job, ModelVersion, Prompt, Task
from labeling.selectors.evaluation_heldout import snapshot_rows, training_prompt_keys
from labeling.services.exports import snapshot_create
from labeling.services.prompts import prompt_content_hash

logger = logging.getLogger(__name__)

POLICY_KINDS = (ModelVersion.Kind.BASE, ModelVersion.Kind.SFT, ModelVersion.Kind.POLICY)
GUIDELINES = ("Two answers to the same prompt. Rank the better one first, or put both in one group if they are "
              "equally good. Rate each and flag problems as usual. You are not told which system wrote which.")
MAX_PROMPTS = 5000
TaskCompletion = Task.completions.through


def _source_prompts(prompt_campaign: Campaign | None, prompt_snapshot: DatasetSnapshot | None) -> list[dict]:
    """The candidate prompts as ``{id, messages, category, author_id}`` (id None when unknown)."""
    if (prompt_campaign is None) == (prompt_snapshot is None):
        raise ValidationError({"prompts": ["give either a prompts campaign or a prompts snapshot"]})
    if prompt_campaign is not None:
        return [{"id": p.pk, "messages": p.messages, "category": p.category, "author_id": p.author_id}
                for p in prompt_campaign.prompts.order_by("id")
                if p.messages and p.messages[-1].get("role") == "user"]
    if prompt_snapshot.kind != DatasetSnapshot.Kind.PROMPTS:
        raise ValidationError({"prompt_snapshot": [f"{prompt_snapshot.name!r} is a {prompt_snapshot.kind} snapshot, "
                                                   f"not a prompts snapshot"]})
    rows = list(snapshot_rows(prompt_snapshot))
    known = Prompt.objects.in_bulk([r["prompt_id"] for r in rows if isinstance(r.get("prompt_id"), int)])
    out = []
    for row in rows:
        pid = row.get("prompt_id") if isinstance(row.get("prompt_id"), int) else None
        original = known.get(pid)
        out.append({"id": pid, "messages": row["prompt"],
                    "category": row.get("category") or (original.category if original else Prompt.Category.OTHER),
                    "author_id": original.author_id if original else ""})
    return out


def _check_policies(policies: list[ModelVersion], judge: ModelVersion | None) -> None:
    errors = {}
    if len({p.pk for p in policies}) < 2:
        errors["policies"] = ["choose at least two different policies"]
    elif wrong := [p.name for p in policies if p.kind not in POLICY_KINDS]:
        errors["policies"] = [f"{', '.join(wrong)}: not a policy (base, sft or policy model)"]
    if judge is not None and judge.kind != ModelVersion.Kind.REWARD:
        errors["judge"] = [f"{judge.name!r} is a {judge.kind} model; the judge must be a reward model"]
    if errors:
        raise ValidationError(errors)


def _check_held_out(prompts: list[dict], policies: list[ModelVersion]) -> None:
    """Refuse prompts that went into training (rule: ``labeling.selectors.evaluation_heldout``)."""
    if not prompts:
        raise ValidationError({"prompts": ["no prompts to evaluate on (a prompt must end with a user turn)"]})
    if len(prompts) > MAX_PROMPTS:
        raise ValidationError({"prompts": [f"at most {MAX_PROMPTS} prompts per evaluation, got {len(prompts)}"]})
    trained = training_prompt_keys(policies)
    found = [w for p in prompts if (w := trained.where(p["id"], prompt_content_hash(p["messages"])))]
    if found:
        more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
        raise ValidationError({"prompts": [f"{len(found)} prompt(s) went into training and are not held out: "
                                           f"{'; '.join(found[:5])}{more}"]})


def _generation_params(settings: dict | None) -> dict:
    params = dict(settings or {})
    if params.pop("k", 1) != 1:
        raise ValidationError({"generation_settings": ["k is always 1: each policy answers each prompt once"]})
    params.setdefault("seed", 0)
    validate_params("generate", params)
    return {**params, "k": 1}


def evaluation_create(*, name: str, policies: list[ModelVersion], prompt_campaign: Campaign | None = None,
                      prompt_snapshot: DatasetSnapshot | None = None, generation_settings: dict | None = None,
                      judge: ModelVersion | None = None, labels_per_task: int = 1, created_by=None) -> Evaluation:
    """Create a human evaluation and start one generate job per policy (same settings and seed, k=1).

    Refuses (ValidationError naming the field) fewer than two policies, a judge that is not a reward
    model, bad generation settings, a taken name, and prompts that went into training (by prompt id
    or by content hash; the rule is in ``labeling.selectors.evaluation_heldout``).
    """
    _check_policies(policies, judge)
    params = _generation_params(generation_settings)
    if Evaluation.objects.filter(name=name).exists():
        raise ValidationError({"name": [f"an evaluation named {name!r} already exists"]})
    prompts = _source_prompts(prompt_campaign, prompt_snapshot)
    _check_held_out(prompts, policies)
    snapshot = None
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(
                # Labelers see the campaign's name: it must not carry the evaluation's (which may name policies).
                name=f"Blind comparison {secrets.token_hex(4)}", guidelines=GUIDELINES, status=Campaign.Status.DRAFT,
                task_kinds=[Campaign.TaskKind.RANKING], completions_per_prompt=2, labels_per_task=labels_per_task,
                generation_settings=params, created_by=created_by)
            evaluation = Evaluation.objects.create(
                name=name, campaign=campaign, prompt_campaign=prompt_campaign, prompt_snapshot=prompt_snapshot,
                generation_settings=params, judge=judge, created_by=created_by)
            evaluation.policies.set(policies)
            _copy_prompts(campaign, prompts)
            snapshot = snapshot_create(kind="prompts", campaign_ids=[campaign.pk], name=f"eval-{campaign.pk}-prompts",
                                       valid_fraction=0.0, include_evaluation=True, created_by=created_by)
            for policy in policies:
                job, _ = job_create(kind="generate", inputs={"model": policy.pk, "prompts": snapshot.pk},
                                    params=params, created_by=created_by)
                evaluation.jobs.add(job)
    except BaseException:
        if snapshot is not None:  # its folder was written before the rollback
            shutil.rmtree(snapshot.path, ignore_errors=True)
        raise
    return evaluation


def _copy_prompts(campaign: Campaign, prompts: list[dict]) -> None:
    """The held-out prompts, deduplicated by content, as the evaluation campaign's own prompts."""
    rows, seen = [], set()
    for p in prompts:
        digest = prompt_content_hash(p["messages"])
        if digest in seen:
            continue
        seen.add(digest)
        rows.append(Prompt(campaign=campaign, messages=p["messages"], author_id=p["author_id"],
                           source_id=f"prompt:{p['id']}" if p["id"] is not None else "", content_hash=digest,
                           category=p["category"], metadata={"source_prompt_id": p["id"]}))
    Prompt.objects.bulk_create(rows, batch_size=1000)


# ---------------------------------------------------------------- advancing


def _read_samples(job: Job) -> dict[int, str]:
    """Prompt id → the policy's one cleaned sample (an empty sample is left out)."""
    samples = {}
    with generations_path(job).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                texts = clean_samples(row.get("completions"))
                if texts and isinstance(row.get("prompt_id"), int):
                    samples[row["prompt_id"]] = texts[0]
    return samples


def _create_pair_tasks(evaluation: Evaluation, gen_jobs: list[Job]) -> dict:
    """One blind K=2 ranking task per prompt and pair of policies; returns counts."""
    campaign = evaluation.campaign
    by_policy = {}
    for job in gen_jobs:
        by_policy[job.inputs["model"]["id"]] = (job, _read_samples(job))
    prompt_ids = list(campaign.prompts.values_list("id", flat=True))
    completions = [Completion(prompt_id=pid, model_version_id=policy_id, text=samples[pid],
                              generation_settings={**evaluation.generation_settings, "job": job.pk})
                   for policy_id, (job, samples) in sorted(by_policy.items()) for pid in prompt_ids if pid in samples]
    rng = random.Random(evaluation.generation_settings.get("seed", 0))
    rng.shuffle(completions)  # ids in creation order would tell an API-reading labeler which policy is which
    Completion.objects.bulk_create(completions, batch_size=1000)
    by_key = {(c.prompt_id, c.model_version_id): c for c in completions}
    planned = [(pid, by_key[(pid, a)], by_key[(pid, b)]) for pid in prompt_ids
               for a, b in itertools.combinations(sorted(by_policy), 2) if (pid, a) in by_key and (pid, b) in by_key]
    rng.shuffle(planned)  # no fixed pair sequence in the queue
    tasks = Task.objects.bulk_create([
        Task(campaign=campaign, prompt_id=pid, kind=Task.Kind.RANKING, required_labels=campaign.labels_per_task,
             priority=campaign.priority) for pid, _, _ in planned], batch_size=1000)
    TaskCompletion.objects.bulk_create([TaskCompletion(task_id=t.pk, completion_id=c.pk)
                                        for t, (_, x, y) in zip(tasks, planned) for c in (x, y)], batch_size=2000)
    pairs = len(by_policy) * (len(by_policy) - 1) // 2
    return {"tasks": len(tasks), "identical": sum(x.text == y.text for _, x, y in planned),
            "missing_samples": len(prompt_ids) * pairs - len(planned)}


def _start_judge(evaluation: Evaluation) -> Job:
    """A ``score`` job: the judge reward model scores every completion the labelers will compare."""
    job, _ = job_create(kind="score", internal=True, inputs={"reward_model": evaluation.judge_id}, params={},
                        created_by=evaluation.created_by)
    path = job_dir(job) / "samples.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = Completion.objects.filter(prompt__campaign=evaluation.campaign).select_related("prompt").order_by("id")
    with path.open("w", encoding="utf-8") as fh:
        for c in rows.iterator(chunk_size=1000):
            turns = [{"role": m["role"], "content": m["content"]} for m in c.prompt.messages]
            fh.write(json.dumps({"id": c.pk, "prompt": turns, "completion": c.text}, ensure_ascii=False) + "\n")
    evaluation.jobs.add(job)
    return job


def _read_judge_scores(job: Job) -> dict[str, float]:
    scores = {}
    with (job_dir(job) / "output" / "scores.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                scores[str(row["id"])] = float(row["score"])
    return scores


def _first_line(job: Job) -> str:
    return job.error.splitlines()[0] if job.error else job.status


def _advance_judge(evaluation: Evaluation) -> None:
    judge_job = evaluation.jobs.filter(kind=Job.Kind.SCORE).order_by("-id").first()
    if judge_job is None or evaluation.judge_scores or judge_job.status in (Job.Status.QUEUED, Job.Status.RUNNING):
        return
    if judge_job.status == Job.Status.SUCCEEDED:
        evaluation.judge_scores = _read_judge_scores(judge_job)
        evaluation.save(update_fields=["judge_scores", "updated_at"])
    elif not evaluation.error:  # the human evaluation stands; only the judge's column is missing
        evaluation.error = f"judge: score job {judge_job.pk} {judge_job.status}: {_first_line(judge_job)}"
        evaluation.save(update_fields=["error", "updated_at"])


def evaluation_advance(*, evaluation_id: int) -> str | None:
    """Move an evaluation on: when every generate job succeeded, create the pairwise tasks (and start the
    judge); record the judge's scores when its job succeeded; fail if a generate job failed. Idempotent
    (row lock + status check), so the runner's call and the sweep's may both happen. Returns the status."""
    with transaction.atomic():
        evaluation = Evaluation.objects.select_for_update().select_related("campaign").filter(pk=evaluation_id).first()
        if evaluation is None:
            return None
        if evaluation.status == Evaluation.Status.LABELING:
            _advance_judge(evaluation)
        if evaluation.status != Evaluation.Status.GENERATING:
            return evaluation.status
        gen_jobs = list(evaluation.jobs.filter(kind=Job.Kind.GENERATE).order_by("id"))
        if bad := [j for j in gen_jobs if j.status in (Job.Status.FAILED, Job.Status.CANCELLED)]:
            evaluation.status = Evaluation.Status.FAILED
            evaluation.error = f"generate job {bad[0].pk} {bad[0].status}: {_first_line(bad[0])}"
            evaluation.save(update_fields=["status", "error", "updated_at"])
            return evaluation.status
        if any(j.status != Job.Status.SUCCEEDED for j in gen_jobs):
            return evaluation.status
        counts = _create_pair_tasks(evaluation, gen_jobs)
        if evaluation.judge_id:
            _start_judge(evaluation)
        Campaign.objects.filter(pk=evaluation.campaign_id).update(status=Campaign.Status.ACTIVE)
        evaluation.status = Evaluation.Status.LABELING
        evaluation.save(update_fields=["status", "updated_at"])
        logger.info("evaluation %s: %s", evaluation.pk, counts)
        return evaluation.status


def evaluation_advance_for_job(*, job: Job) -> None:
    """Called by the job runner when any job finishes: advance the evaluations it belongs to after commit.
    Errors are logged, not raised (the runner has recorded the job; the beat sweep tries again)."""
    def _advance():
        for evaluation_id in Evaluation.objects.filter(jobs=job.pk).values_list("id", flat=True):
            try:
                evaluation_advance(evaluation_id=evaluation_id)
            except Exception:
                logger.exception("evaluation %s: advance failed; the sweep will retry", evaluation_id)

    if job.kind in (Job.Kind.GENERATE, Job.Kind.SCORE):
        transaction.on_commit(_advance)


def evaluations_advance_pending() -> int:
    """Beat sweep: advance evaluations still generating or waiting for their judge; returns how many."""
    waiting_for_judge = Q(status=Evaluation.Status.LABELING, judge__isnull=False, judge_scores={}, error="")
    pending = Evaluation.objects.filter(Q(status=Evaluation.Status.GENERATING) | waiting_for_judge).values_list(
        "id", flat=True)
    ids = list(pending)
    for evaluation_id in ids:
        evaluation_advance(evaluation_id=evaluation_id)
    return len(ids)


def evaluation_export(*, evaluation: Evaluation, name: str | None = None, valid_fraction: float = 0.1,
                      created_by=None) -> DatasetSnapshot:
    """Export the evaluation's human comparisons as a comparisons snapshot for the next reward model; its
    manifest's filters say it came from this evaluation. Raises ValidationError when nothing is labelled."""
    return snapshot_create(kind="comparisons", campaign_ids=[evaluation.campaign_id], name=name,
                           valid_fraction=valid_fraction, include_evaluation=True, created_by=created_by)
