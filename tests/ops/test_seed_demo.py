"""``seed_demo``: accounts with roles, an active demo campaign spanning the InstructGPT categories with
K=4 outputs per prompt sampled through ``python -m training generate`` (the tiny model here; SmolLM2 in
``make demo``), a cache, a canned fallback that says so, and idempotence."""
from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from labeling.models import Campaign, Completion, ModelVersion, Prompt, Task
from labeling.selectors.users import user_roles

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


@pytest.mark.slow
def test_outputs_come_from_the_training_cli_and_are_cached(settings, tmp_path, model_cache, monkeypatch):
    settings.VAR_DIR = tmp_path
    settings.PREFLOOP_MODEL_CACHE = str(model_cache)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PREFLOOP_DEMO_PASSWORD", "s3cret-demo")
    output = seed("--model", "tiny")
    assert "CANNED" not in output, output
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
