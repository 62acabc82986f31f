"""Research test data for the browser tests (fixtures, imported by the test modules that use them): a
researcher, a labelled campaign with its snapshots, a base → SFT → reward → PPO lineage, finished, running
and failed jobs, an evaluate job's win rate. Jobs are "dispatched" to a list: no worker runs."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import roles
from labeling.jobs import services as job_services
from labeling.models import Job
from labeling.services.exports import snapshot_create
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit
import browser_support as seed
from browser_support import XSS


@pytest.fixture
def dispatched(monkeypatch):
    """Jobs the API sends to the broker: recorded as dispatched, not run."""
    sent: list[int] = []

    def dispatch(*, job_id: int) -> bool:
        sent.append(job_id)
        Job.objects.filter(pk=job_id).update(dispatched_at=timezone.now())
        return True

    monkeypatch.setattr(job_services, "job_dispatch", dispatch)
    return sent


def metric_rows(n: int) -> list[dict]:
    return [
        {"step": s, "progress": s / n, "loss": round(2.4 * 0.95**s + 0.3, 4), "lr": 1e-5 * min(1, s / 10),
         "reward": round(-0.5 + s / n, 4), "heldout_reward": round(-0.6 + s / n, 4), "kl": round(0.002 * s, 4),
         "entropy": round(2.0 - s / n, 4), "response_length": 30 + s, "tokens_per_s": 900 + s, "time": "t"}
        for s in range(1, n + 1)
    ]


def _label_everything(campaign, labeler) -> None:
    """Submit every task of `campaign` as `labeler`: a demonstration or a ranking (in shown order)."""
    while (a := assignment_next(labeler=labeler, campaign_id=campaign.id)) is not None:
        data = ({"text": f"A careful answer ({a.task_id})."} if a.task.kind == "demonstration"
                else {"ranking": [[c] for c in a.display_order]})
        assignment_submit(assignment_id=a.id, labeler=labeler, data=data)


@pytest.fixture
def research_setup(roles_exist, settings, tmp_path, dispatched):
    data = tmp_path / "data"
    settings.PREFLOOP_DATA_DIR = data
    seed.user("rita", roles.RESEARCHER)
    seed.user("lars")
    labeler = seed.user("lena")
    support = seed.campaign(
        "Support rankings", kinds=("demonstration", "ranking"), k=3,
        prompts=[{"prompt": f"How do I reset my password ({i})?", "author_id": f"customer-{i % 4}", "category": "open_qa",
                  "completions": [f"Go to settings ({i}).", f"Ask support ({i}).", f"I cannot help ({i})."]} for i in range(8)],
    )
    _label_everything(support, labeler)
    seed.campaign("Unlabeled brainstorms", kinds=("demonstration",), prompts=[{"prompt": "Name a cat."}])
    prompts = snapshot_create(kind="prompts", campaign_ids=[support.id], name="support-prompts-v1")
    demos = snapshot_create(kind="sft", campaign_ids=[support.id], name="support-demos-v1")

    base = job_services.model_version_create(name="tiny-base", kind="base", artifact_path="tiny")
    sft = job_services.model_version_create(name="sft-v1", kind="sft", artifact_path=f"{data}/jobs/1/output/model",
                                            parent=base, metrics={"final": {"loss": 1.23}, "summary": {"eval_loss": 1.31}})
    rm = job_services.model_version_create(name="rm-v1", kind="reward", artifact_path=f"{data}/jobs/2/output/model",
                                           parent=sft, metrics={"summary": {"valid_pairwise_accuracy": 0.68, "valid_loss": 0.61}})
    now = timezone.now()
    ppo = Job.objects.create(
        kind="ppo", status="succeeded", params={"max_steps": 60, "learning_rate": 1e-5}, progress=1.0, attempts=1,
        started_at=now - timedelta(minutes=9), finished_at=now - timedelta(minutes=1), heartbeat_at=now - timedelta(minutes=1),
        metrics=metric_rows(60), output_dir=f"{data}/jobs/3/output",
        inputs={"model": {"type": "model", "id": sft.id, "name": "sft-v1"}, "reward_model": {"type": "model", "id": rm.id, "name": "rm-v1"},
                "prompts": {"type": "snapshot", "id": prompts.id, "name": "support-prompts-v1"}},
        result={"result": {"status": "succeeded", "summary": {"reward_mean_last": 0.42}}}, log_tail=f"step 60/60\n{XSS}\ndone",
    )
    ppo.input_snapshots.set([prompts])
    ppo.input_models.set([sft, rm])
    policy = job_services.model_version_create(name="ppo-v1", kind="policy", artifact_path=f"{data}/jobs/3/output/model",
                                               parent=sft, reward_model=rm,
                                               metrics={"summary": {"reward_mean_last": 0.42, "kl_last": 0.03}, "win_rate": 0.625})
    policy.job = ppo
    policy.save(update_fields=["job"])
    evaluate = Job.objects.create(
        kind="evaluate", status="succeeded", progress=1.0, attempts=1, started_at=now - timedelta(seconds=75), finished_at=now,
        heartbeat_at=now,
        inputs={"reward_model": {"type": "model", "id": rm.id, "name": "rm-v1"}, "prompts": {"type": "snapshot", "id": prompts.id, "name": "support-prompts-v1"},
                "policy_a": {"type": "model", "id": sft.id, "name": "sft-v1"}, "policy_b": {"type": "model", "id": policy.id, "name": "ppo-v1"}},
        result={"result": {"win_rate_b_over_a": 0.625, "ci_low": 0.52, "ci_high": 0.72, "ci_method": "wilson 95 %",
                           "tie_rule": "ties count half", "wins_a": 5, "wins_b": 12, "ties": 3, "identical": 0, "n_pairs": 20,
                           "judge": "reward model rm-v1", "split": "all"}, "recorded": {}},
    )
    running = Job.objects.create(kind="sft", status="running", progress=0.4, attempts=1, started_at=now, heartbeat_at=now,
                                 params={"max_steps": 200}, metrics=metric_rows(8))
    failed = Job.objects.create(kind="dpo", status="failed", attempts=1, error=f"bad config: {XSS}", finished_at=now)
    return {"support": support, "ppo": ppo, "evaluate": evaluate, "running": running, "failed": failed, "sft": sft,
            "base": base, "demos": demos, "prompts": prompts, "data": data}
