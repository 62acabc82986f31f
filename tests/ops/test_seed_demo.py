"""``seed_demo``: accounts with roles, an active demo campaign spanning the InstructGPT categories with
K=4 outputs per prompt sampled through ``python -m training generate`` (the tiny model here; SmolLM2 in
``make demo``) batch by batch with progress, a cache that resumes, a canned fallback that says so, a
queue that alternates task kinds, and idempotence."""
from __future__ import annotations

import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from labeling.management.commands._demo_sampling import DemoSampler
from labeling.models import Campaign, Completion, ModelVersion, Prompt, Task
from labeling.selectors.users import user_roles
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit

pytestmark = pytest.mark.django_db


def seed(*args) -> str:
    out, err = StringIO(), StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def counts():
    return (get_user_model().objects.count(), Campaign.objects.count(), Prompt.objects.count(), Task.objects.count(),
            Completion.objects.count(), ModelVersion.objects.count())


def test_canned_seed_is_complete_labelled_and_idempotent(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("PREFLOOP_DEMO_PASSWORD", raising=False)
    settings.VAR_DIR = tmp_path
    output = seed("--canned")
    assert "CANNED" in output and "prefloop-demo" in output
    for name in ("labeler", "admin", "researcher", "staff"):
        assert f"  {name}" in output
    User = get_user_model()
    assert user_roles(User.objects.get(username="labeler")) == ["labeler"]
    assert user_roles(User.objects.get(username="admin")) == ["campaign_admin"]
    assert user_roles(User.objects.get(username="researcher")) == ["researcher"]
    assert User.objects.get(username="staff").is_superuser
    assert User.objects.get(username="labeler").check_password("prefloop-demo")

    campaign = Campaign.objects.get()
    assert campaign.status == "active" and campaign.completions_per_prompt == 4
    prompts = Prompt.objects.filter(campaign=campaign)
    assert prompts.count() == 24
    assert set(prompts.values_list("category", flat=True)) == set(Prompt.Category.values)
    assert any(len(p.messages) > 2 for p in prompts.filter(category="chat"))
    assert prompts.values("author_id").distinct().count() == 8
    assert Task.objects.filter(kind="demonstration").count() == 24
    ranking = Task.objects.filter(kind="ranking")
    assert ranking.count() == 24
    assert all(t.completions.count() == 4 for t in ranking)
    assert all("canned demo output" in c.text for c in Completion.objects.all())

    before = counts()
    seed("--canned")
    assert counts() == before


def first_kinds_served(n: int) -> list[str]:
    """The kinds of the demo labeler's first ``n`` tasks, labeling each as it comes."""
    labeler, kinds = get_user_model().objects.get(username="labeler"), []
    for _ in range(n):
        a = assignment_next(labeler=labeler)
        body = {"text": "an answer"} if a.task.kind == "demonstration" else {"ranking": [a.display_order]}
        assignment_submit(assignment_id=a.pk, labeler=labeler, data=body)
        kinds.append(a.task.kind)
    return kinds


def test_the_demo_labeler_sees_a_ranking_first_then_kinds_alternate(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    seed("--canned")
    assert first_kinds_served(4) == ["ranking", "demonstration", "ranking", "demonstration"]


def test_a_model_that_cannot_be_prepared_falls_back_to_canned_outputs_loudly(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    output = seed("--model", "no-such-model")
    assert "CANNED" in output and "`python -m training prepare-model` failed" in output
    assert Task.objects.filter(kind="ranking").count() == 24


@pytest.mark.slow
def test_outputs_come_from_the_training_cli_and_are_cached(settings, tmp_path, model_cache, monkeypatch):
    settings.VAR_DIR = tmp_path
    settings.PREFLOOP_MODEL_CACHE = str(model_cache)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PREFLOOP_DEMO_PASSWORD", "s3cret-demo")
    output = seed("--model", "tiny", "--batch-prompts", "12")
    assert "CANNED" not in output, output
    assert "batch 1/2 done" in output and "batch 2/2 done (prompts" in output and "left" in output
    assert "s3cret-demo" not in output and "$PREFLOOP_DEMO_PASSWORD" in output
    assert list((Path(tmp_path) / "demo").glob("generations-*.jsonl"))
    model = ModelVersion.objects.get(name="tiny")
    ranked = Task.objects.filter(kind="ranking")
    assert ranked.exists()
    for task in ranked:
        texts = [c.text for c in task.completions.all()]
        assert 2 <= len(texts) <= 4 and len(set(texts)) == len(texts)
        assert all(c.model_version_id == model.pk for c in task.completions.all())

    # A second run finds nothing missing; with the cache it would not sample again anyway.
    before = counts()
    again = seed("--model", "tiny")
    assert counts() == before and "sampling" not in again


@pytest.mark.slow
def test_an_interrupted_sampling_resumes_from_its_cached_batches(tmp_path, model_cache):
    lines = []
    sampler = lambda: DemoSampler(  # noqa: E731
        model_name="tiny", prompts=[[{"role": "user", "content": f"Say {w}"}] for w in ("hi", "bye", "yes")],
        generation={"k": 2, "temperature": 0.8, "top_p": 0.95, "max_new_tokens": 8, "seed": 0}, folder=tmp_path,
        python=sys.executable, cwd=django_settings.BASE_DIR, write=lines.append, batch_prompts=2,
        env={"PREFLOOP_MODEL_CACHE": str(model_cache), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
             "PATH": "/usr/bin:/bin"},
    )
    first = sampler().sample(timeout=600)
    assert not first.problem and sorted(first.outputs) == [0, 1, 2]
    # Interrupted after the second batch: the combined file and the first batch are missing.
    interrupted = sampler()
    interrupted.final.unlink()
    (interrupted.parts / "batch-000.jsonl").unlink()
    lines.clear()
    again = interrupted.sample(timeout=600)
    assert "1 batch(es) of 2 prompts to go (1 cached)" in lines[1]
    assert again.outputs == first.outputs  # seeds are per (batch, prompt, sample): the same texts again
    assert interrupted.final.is_file()
