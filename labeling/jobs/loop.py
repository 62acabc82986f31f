"""Closing the loop: a ``generate`` job's samples become new ranking tasks (InstructGPT's cycle).

The generate CLI writes one JSONL row per prompt, ``{prompt_id, prompt, completions, model, settings}``;
``prompt_id`` is the Prompt's primary key because prompts snapshots carry it. Each prompt's samples
become Completions tagged with the policy's ModelVersion and one ranking task in the prompt's campaign
(or only in ``params["campaign"]`` when the job names one).
"""
from __future__ import annotations

import json

from labeling.jobs.command import generations_path
from labeling.models import Campaign, Job, ModelVersion, Prompt
from labeling.services.task_creation import MAX_RANKED, MIN_RANKED, ranking_tasks_create_from_outputs


def clean_samples(texts) -> list[str]:
    """Non-empty, NUL-free, distinct (ranking two identical texts teaches nothing), at most MAX_RANKED."""
    seen, out = set(), []
    for text in texts or []:
        if not isinstance(text, str):
            continue
        text = text.replace("\x00", "").strip()  # a sampled NUL byte cannot be stored in PostgreSQL text
        if text and text not in seen:
            seen.add(text)
            out.append(text)
    return out[:MAX_RANKED]


def import_generated(*, job: Job) -> dict:
    """Create ranking tasks from the job's generations file; returns counts for ``Job.result``.

    Precondition: the job succeeded and its generations file is complete (the CLI renames it into
    place). Prompts with fewer than two usable samples are skipped and counted. A human evaluation's
    samples are not imported: the evaluation makes its own blind pairwise tasks from them.
    """
    if job.evaluations.exists():
        return {"prompts": 0, "tasks_created": 0, "skipped_evaluation": job.evaluations.values_list("id", flat=True)[0]}
    path = generations_path(job)
    outputs: dict[int, list[str]] = {}
    settings_by_prompt: dict[int, dict] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            try:
                pid = int(row["prompt_id"])
            except (KeyError, TypeError, ValueError):
                continue
            outputs[pid] = clean_samples(row.get("completions"))
            settings_by_prompt[pid] = row.get("settings") or {}
    only = job.params.get("campaign")
    prompt_campaign = dict(Prompt.objects.filter(pk__in=list(outputs)).values_list("id", "campaign_id"))
    policy = ModelVersion.objects.filter(pk=(job.inputs.get("model") or {}).get("id")).first()
    counts = {"prompts": len(outputs), "tasks_created": 0, "skipped_too_few_samples": 0, "skipped_unknown_prompt": 0,
              "skipped_campaign": 0}
    by_campaign: dict[int, dict[int, list[str]]] = {}
    for pid, texts in outputs.items():
        cid = prompt_campaign.get(pid)
        if cid is None:
            counts["skipped_unknown_prompt"] += 1
        elif only is not None and cid != int(only):
            counts["skipped_campaign"] += 1
        elif len(texts) < MIN_RANKED:
            counts["skipped_too_few_samples"] += 1
        else:
            by_campaign.setdefault(cid, {})[pid] = texts
    for campaign in Campaign.objects.filter(pk__in=list(by_campaign)):
        if "ranking" not in campaign.task_kinds or campaign.status == Campaign.Status.ARCHIVED:
            counts["skipped_campaign"] += len(by_campaign[campaign.pk])
            continue
        some_settings = next(iter(settings_by_prompt.values()), {})
        tasks = ranking_tasks_create_from_outputs(
            campaign=campaign, outputs=by_campaign[campaign.pk], model_version=policy,
            generation_settings={**some_settings, "job": job.pk},
        )
        counts["tasks_created"] += len(tasks)
    return counts
