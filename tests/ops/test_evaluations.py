"""Human evaluation without a worker: the held-out check, generate jobs whose samples become blind K=2
tasks (through the runner's finish hook), labelers through the real queue, results, the judge on the same
texts, the leaderboard, and exports (evaluation campaigns kept out of training exports by default)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from labeling.jobs import runner
from labeling.jobs.command import generations_path
from labeling.jobs.loop import import_generated
from labeling.jobs.services import job_dir, model_version_create
from labeling.jobs.sweep import jobs_sweep
from labeling.models import Campaign, Completion, Evaluation, Job, Prompt, Task
from labeling.selectors.evaluations import evaluation_results, leaderboard
from labeling.services.evaluations import evaluation_advance, evaluation_create, evaluation_export
from labeling.services.exports import snapshot_create
from labeling.services.prompts import prompt_content_hash
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit

pytestmark = pytest.mark.django_db

CATEGORIES = ["generation", "open_qa", "brainstorming"]


@pytest.fixture
def policies(data_dir):
    return [model_version_create(name=f"pol-{x}", kind="policy", artifact_path="tiny") for x in "abc"]


@pytest.fixture
def judge(data_dir):
    return model_version_create(name="judge-rm", kind="reward", artifact_path="tiny")


def held_out_campaign(n=6, name="held-out") -> Campaign:
    campaign = Campaign.objects.create(name=name, task_kinds=["demonstration"])
    for i in range(n):
        messages = [{"role": "user", "content": f"Held-out question {i}?"}]
        Prompt.objects.create(campaign=campaign, messages=messages, category=CATEGORIES[i % 3], author_id=f"au{i}",
                              content_hash=prompt_content_hash(messages))
    return campaign


def finish_generate(job: Job, texts: dict[int, str], django_capture_on_commit_callbacks) -> None:
    """What a generate run leaves behind, then the runner's own finish (which advances the evaluation)."""
    path = generations_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"prompt_id": pid, "completions": [t], "settings": {"k": 1}}) + "\n"
                            for pid, t in texts.items()), encoding="utf-8")
    assert import_generated(job=job)["tasks_created"] == 0  # an evaluation's samples are not ordinary tasks
    with django_capture_on_commit_callbacks(execute=True):
        runner.finish(job, Job.Status.SUCCEEDED)


def test_prompts_that_went_into_training_are_refused(labeled, policies):
    rm_data = snapshot_create(kind="comparisons", campaign_ids=[labeled.campaign.pk], name="rm-data")
    with pytest.raises(ValidationError, match="'rm-data' is a comparisons snapshot, not a prompts snapshot"):
        evaluation_create(name="wrong-kind", policies=policies[:2], prompt_snapshot=rm_data)
    with pytest.raises(ValidationError, match=r"12 prompt\(s\) went into training.*in snapshot 'rm-data'"):
        evaluation_create(name="dirty", policies=policies[:2], prompt_campaign=labeled.campaign)
    copy = held_out_campaign(2, name="copied-text")  # same text as a trained prompt, under another id
    trained = labeled.campaign.prompts.first()
    Prompt.objects.filter(pk=copy.prompts.first().pk).update(messages=trained.messages)
    with pytest.raises(ValidationError, match=r"1 prompt\(s\).*text is in snapshot 'rm-data'"):
        evaluation_create(name="dirty2", policies=policies[:2], prompt_campaign=copy)
    with pytest.raises(ValidationError, match="at least two different policies"):
        evaluation_create(name="one", policies=[policies[0], policies[0]], prompt_campaign=held_out_campaign(1, "x"))
    assert not Evaluation.objects.exists() and not Job.objects.filter(kind="generate").exists()


def test_prompts_a_compared_policy_was_optimised_on_are_refused(policies, data_dir):
    prompts = held_out_campaign(3)
    snap = snapshot_create(kind="prompts", campaign_ids=[prompts.pk], name="ppo-prompts")
    ppo = Job.objects.create(kind="ppo", status=Job.Status.SUCCEEDED)
    ppo.input_snapshots.set([snap])
    parent = policies[0]
    parent.job = ppo
    parent.save()
    child = model_version_create(name="child", kind="policy", artifact_path="tiny", parent=parent)
    with pytest.raises(ValidationError, match="in snapshot 'ppo-prompts'"):
        evaluation_create(name="e", policies=[child, policies[1]], prompt_campaign=prompts)
    # The same prompts are held out for policies whose lineage never saw them.
    assert evaluation_create(name="e", policies=policies[1:], prompt_campaign=prompts).status == "generating"


def test_an_evaluation_from_samples_to_leaderboard(policies, judge, labeler, make_user,
                                                   django_capture_on_commit_callbacks):
    source = held_out_campaign(6)
    with django_capture_on_commit_callbacks(execute=False):
        evaluation = evaluation_create(name="ev1", policies=policies, prompt_campaign=source, judge=judge,
                                       generation_settings={"temperature": 0.7, "max_new_tokens": 32, "seed": 5},
                                       labels_per_task=2)
    campaign = evaluation.campaign
    assert campaign.task_kinds == ["ranking"] and campaign.completions_per_prompt == 2
    gen = list(evaluation.jobs.order_by("id"))
    assert [j.inputs["model"]["id"] for j in gen] == [p.pk for p in policies]
    assert all(j.params == {"temperature": 0.7, "max_new_tokens": 32, "seed": 5, "k": 1} for j in gen)
    assert len({j.inputs["prompts"]["id"] for j in gen}) == 1

    prompt_ids = list(campaign.prompts.order_by("id").values_list("id", flat=True))
    for policy, job in zip(policies, gen):
        # pol-a and pol-b answer the first prompt identically: still a task, reported as identical.
        texts = {pid: ("same answer" if i == 0 and policy.name != "pol-c" else f"{policy.name} answer {i}")
                 for i, pid in enumerate(prompt_ids)}
        finish_generate(job, texts, django_capture_on_commit_callbacks)
        evaluation.refresh_from_db()
        assert evaluation.status == ("labeling" if job == gen[-1] else "generating")
    tasks = Task.objects.filter(campaign=campaign)
    assert tasks.count() == 6 * 3 and Campaign.objects.get(pk=campaign.pk).status == "active"
    assert all(len({c.model_version_id for c in t.completions.all()}) == 2 for t in tasks)

    score_job = evaluation.jobs.get(kind="score")
    rows = [json.loads(line) for line in (job_dir(score_job) / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 18 and {"id", "prompt", "completion"} <= set(rows[0])
    # A judge that prefers pol-a > pol-b > pol-c: the opposite of the humans below.
    rank = {"pol-a": 3.0, "pol-b": 2.0, "pol-c": 1.0}
    by_id = {c.pk: c for c in Completion.objects.filter(prompt__campaign=campaign).select_related("model_version")}
    out = Path(score_job.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scores.jsonl").write_text("".join(json.dumps({"id": r["id"], "score": rank[by_id[r["id"]].model_version.name]})
                                              + "\n" for r in rows))
    with django_capture_on_commit_callbacks(execute=True):
        runner.finish(score_job, Job.Status.SUCCEEDED)
    evaluation.refresh_from_db()
    assert len(evaluation.judge_scores) == 18

    # Two labelers who always prefer pol-c > pol-b > pol-a, tying identical texts.
    order = {p.pk: i for i, p in enumerate(reversed(policies))}
    for person in (labeler, make_user("labeler")):
        while (a := assignment_next(labeler=person, campaign_id=campaign.pk)) is not None:
            comps = list(a.task.completions.all())
            assert sorted(a.display_order) == sorted(c.pk for c in comps)
            if comps[0].text == comps[1].text:
                groups = [[comps[0].pk, comps[1].pk]]
            else:
                groups = [[c.pk] for c in sorted(comps, key=lambda c: order[c.model_version_id])]
            assignment_submit(assignment_id=a.pk, labeler=person, data={"ranking": groups})

    results = evaluation_results(evaluation, resamples=200)
    assert results["comparisons"] == 36 and results["identical"] == 2
    pairs = {(p["a"], p["b"]): p for p in results["pairs"]}
    a, b, c = (p.pk for p in policies)
    assert pairs[(a, b)]["ties"] == 2 and pairs[(a, b)]["win_rate_a"] == pytest.approx(1 / 12)
    assert pairs[(a, c)]["win_rate_a"] == 0 and pairs[(a, c)]["separated"]
    assert pairs[(a, c)]["judge"]["win_rate_a"] == 1 and pairs[(a, c)]["judge"]["disagreement"] == 1
    assert [row["policy"] for row in results["bradley_terry"]] == [c, b, a]
    assert set(results["categories"]) == set(CATEGORIES)

    board = leaderboard(resamples=200)
    assert [row["name"] for row in board["policies"]] == ["pol-c", "pol-b", "pol-a"]
    assert board["policies"][0]["win_rate"]["comparisons"] == 24

    # Feeding back: kept out of training exports unless asked; the evaluation's own export says where it came from.
    with pytest.raises(ValidationError, match="belong to a human evaluation"):
        snapshot_create(kind="comparisons", campaign_ids=[campaign.pk])
    snap = evaluation_export(evaluation=evaluation, name="ev1-comparisons")
    assert snap.rows == 36 and snap.filters["from_evaluation"] == [evaluation.pk]
    manifest = json.loads((Path(snap.path) / "manifest.json").read_text())
    assert manifest["filters"]["from_evaluation"] == [evaluation.pk]


def test_a_failed_generate_job_fails_the_evaluation_and_the_sweep_advances(policies, data_dir):
    evaluation = evaluation_create(name="ev2", policies=policies[:2], prompt_campaign=held_out_campaign(2))
    first, second = evaluation.jobs.order_by("id")
    Job.objects.filter(pk=first.pk).update(status=Job.Status.SUCCEEDED)
    assert evaluation_advance(evaluation_id=evaluation.pk) == "generating"
    Job.objects.filter(pk=second.pk).update(status=Job.Status.FAILED, error="out of memory\nlog")
    jobs_sweep()  # the safety net, as if the runner's message were lost
    evaluation.refresh_from_db()
    assert evaluation.status == "failed" and evaluation.error == f"generate job {second.pk} failed: out of memory"
    assert not Task.objects.filter(campaign=evaluation.campaign).exists()


def test_api_researchers_create_and_read_labelers_only_see_blind_tasks(policies, client_for, make_user,
                                                                       django_capture_on_commit_callbacks):
    researcher, labeler = make_user("researcher"), make_user("labeler")
    api, labeler_api = client_for(researcher), client_for(labeler)
    source = held_out_campaign(3)
    body = {"name": "api-ev", "policies": [p.name for p in policies[:2]], "prompt_campaign_id": source.pk,
            "generation_settings": {"temperature": 0.5, "seed": 3}}
    for path, method in (("/api/v1/evaluations", "post"), ("/api/v1/evaluations", "get"),
                         ("/api/v1/leaderboard", "get")):
        assert getattr(labeler_api, method)(path, body, format="json").status_code == 403
        assert getattr(client_for(None), method)(path, body, format="json").status_code == 401
    bad = api.post("/api/v1/evaluations", {**body, "policies": ["pol-a", "nope"]}, format="json")
    assert bad.status_code == 400 and "no model version 'nope'" in json.dumps(bad.json())
    bad = api.post("/api/v1/evaluations", {**body, "generation_settings": {"k": 4}}, format="json")
    assert bad.status_code == 400 and "k is always 1" in json.dumps(bad.json())
    bad = api.post("/api/v1/evaluations", {**body, "prompt_campaign_id": 987654}, format="json")
    assert bad.status_code == 400 and bad.json()["prompt_campaign_id"] == ["no campaign 987654"]
    bad = api.post("/api/v1/iterations", {"source_campaign_ids": [source.pk], "base_model": policies[0].name,
                                          "target_campaign_id": 987654}, format="json")
    assert bad.status_code == 400 and bad.json()["target_campaign_id"] == ["no campaign 987654"]

    with django_capture_on_commit_callbacks(execute=False):
        r = api.post("/api/v1/evaluations", body, format="json")
    assert r.status_code == 201, r.json()
    created = r.json()
    assert created["status"] == "generating" and [j["kind"] for j in created["progress"]["jobs"]] == ["generate"] * 2
    evaluation = Evaluation.objects.get(pk=created["id"])
    prompt_ids = list(evaluation.campaign.prompts.values_list("id", flat=True))
    for policy, job in zip(policies, evaluation.jobs.order_by("id")):
        finish_generate(job, {pid: f"{policy.name} says {pid}" for pid in prompt_ids}, django_capture_on_commit_callbacks)
    assert labeler_api.get(f"/api/v1/evaluations/{evaluation.pk}/results").status_code == 403

    r = labeler_api.post("/api/v1/queue/next", {"campaign": evaluation.campaign_id}, format="json")
    assert r.status_code == 200
    payload = json.dumps(r.json())
    assert len(r.json()["task"]["completions"]) == 2
    assert "api-ev" not in payload and "model" not in json.dumps(r.json()["task"]["completions"])
    first, second = (c["id"] for c in r.json()["task"]["completions"])
    assert labeler_api.post(f"/api/v1/assignments/{r.json()['assignment_id']}/submit",
                            {"ranking": [[first, second]]}, format="json").status_code in (200, 201)

    results = api.get(f"/api/v1/evaluations/{evaluation.pk}/results").json()
    assert results["comparisons"] == 1 and results["pairs"][0]["ties"] == 1 and "half" in results["ties_rule"]
    assert results["pairs"][0]["more_comparisons_needed"] is None  # a dead heat
    board = api.get("/api/v1/leaderboard").json()
    assert {p["name"] for p in board["policies"]} == {"pol-a", "pol-b"}
    assert board["policies"][0]["lineage"]["kind"] == "policy"
    assert api.get("/api/v1/leaderboard?evaluation=x").status_code == 400
    r = api.post(f"/api/v1/evaluations/{evaluation.pk}/export", {"name": "api-ev-cmp"}, format="json")
    assert r.status_code == 201 and r.json()["filters"]["from_evaluation"] == [evaluation.pk]
    listed = api.get("/api/v1/evaluations").json()
    assert listed["results"][0]["name"] == "api-ev"


@pytest.mark.slow
def test_real_generate_and_score_runs_feed_the_evaluation(data_dir, model_cache, settings, monkeypatch,
                                                          django_capture_on_commit_callbacks):
    """The tiny model through the real runner: two policies sample, the pairs appear, the judge scores them."""
    import torch

    from labeling.jobs.estimate import job_estimate
    from labeling.jobs.runner import run_job
    from training.modeling import resolve_model
    from training.reward_model import init_reward_model

    settings.PREFLOOP_MODEL_CACHE = str(model_cache)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    judge_dir = Path(data_dir) / "models" / "judge"
    torch.manual_seed(0)
    init_reward_model(resolve_model("tiny", cache_dir=model_cache), "cpu", torch.float32).save_pretrained(judge_dir)
    judge = model_version_create(name="judge", kind="reward", artifact_path=str(judge_dir))
    assert job_estimate(kind="score", inputs={"reward_model": judge}, params={})["model_params"] > 0
    first = model_version_create(name="tiny-a", kind="base", artifact_path="tiny")
    second = model_version_create(name="tiny-b", kind="base", artifact_path="tiny")
    evaluation = evaluation_create(name="real", policies=[first, second], prompt_campaign=held_out_campaign(3),
                                   judge=judge, generation_settings={"max_new_tokens": 6, "device": "cpu", "seed": 1})
    for job in evaluation.jobs.order_by("id"):
        with django_capture_on_commit_callbacks(execute=True):
            assert run_job(job.pk, poll_s=0.2) == Job.Status.SUCCEEDED, Job.objects.get(pk=job.pk).log_tail
    evaluation.refresh_from_db()
    assert evaluation.status == "labeling"
    # Same seed, same weights: the two "policies" write the same texts, so every pair is identical but still a task.
    tasks = list(Task.objects.filter(campaign=evaluation.campaign))
    assert 1 <= len(tasks) <= 3 and all(len({c.text for c in t.completions.all()}) == 1 for t in tasks)
    score_job = evaluation.jobs.get(kind="score")
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job(score_job.pk, poll_s=0.2) == Job.Status.SUCCEEDED, Job.objects.get(pk=score_job.pk).log_tail
    evaluation.refresh_from_db()
    assert len(evaluation.judge_scores) == 2 * len(tasks)


def test_prompts_may_come_from_a_prompts_snapshot(policies, data_dir):
    source = held_out_campaign(4)
    snap = snapshot_create(kind="prompts", campaign_ids=[source.pk], name="held-out-v1", valid_fraction=0.5)
    evaluation = evaluation_create(name="from-snap", policies=policies[:2], prompt_snapshot=snap)
    copied = list(evaluation.campaign.prompts.order_by("source_id"))
    originals = {f"prompt:{p.pk}": p for p in source.prompts.all()}
    assert [p.source_id for p in copied] == sorted(originals)  # train and valid rows alike
    assert all(p.category == originals[p.source_id].category and p.messages == originals[p.source_id].messages
               for p in copied)
    with pytest.raises(ValidationError, match="give either a prompts campaign or a prompts snapshot"):
        evaluation_create(name="both", policies=policies[:2], prompt_snapshot=snap, prompt_campaign=source)
