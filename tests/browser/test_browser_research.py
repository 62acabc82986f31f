"""A researcher in a real browser: the snapshot list and an export (API errors shown inline), the model
registry with lineage and metrics, a new job (it stays queued: no worker runs here) and its cancellation,
a job's metric plots, an evaluate job's win rate, the job list refreshing itself while a job runs; a
labeler gets no research navigation and a 403 message."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from labeling import roles
from labeling.jobs import services as job_services
from labeling.models import DatasetSnapshot, Job
from labeling.services.exports import snapshot_create
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit
import browser_support as seed
from browser_support import XSS, login
from test_browser_a11y import audit, axe_page  # noqa: F401  (axe_page is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def enqueued(monkeypatch):
    """Jobs the API would send to the gpu queue: recorded, not run."""
    sent: list[int] = []
    monkeypatch.setattr(job_services, "job_enqueue", lambda *, job: sent.append(job.pk))
    return sent


def _metric_rows(n: int) -> list[dict]:
    return [
        {"step": s, "progress": s / n, "loss": round(2.4 * 0.95**s + 0.3, 4), "lr": 1e-5 * min(1, s / 10),
         "reward": round(-0.5 + s / n, 4), "kl": round(0.002 * s, 4), "tokens_per_s": 900 + s, "time": "t"}
        for s in range(1, n + 1)
    ]


@pytest.fixture
def research_setup(roles_exist, settings, tmp_path, enqueued):
    settings.PREFLOOP_DATA_DIR = tmp_path / "data"
    seed.user("rita", roles.RESEARCHER)
    seed.user("lars")
    labeler = seed.user("lena")
    support = seed.campaign(
        "Support rankings", kinds=("ranking",), k=3,
        prompts=[{"prompt": f"How do I reset my password ({i})?", "author_id": f"customer-{i % 4}", "category": "open_qa",
                  "completions": [f"Go to settings ({i}).", f"Ask support ({i}).", f"I cannot help ({i})."]} for i in range(8)],
    )
    for _ in range(8):
        a = assignment_next(labeler=labeler, campaign_id=support.id)
        assignment_submit(assignment_id=a.id, labeler=labeler, data={"ranking": [[c] for c in a.display_order]})
    seed.campaign("Unlabeled brainstorms", kinds=("demonstration",), prompts=[{"prompt": "Name a cat."}])
    prompts = snapshot_create(kind="prompts", campaign_ids=[support.id], name="support-prompts-v1")

    base = job_services.model_version_create(name="tiny-base", kind="base", artifact_path="tiny")
    sft = job_services.model_version_create(name="sft-v1", kind="sft", artifact_path="/data/jobs/1/output/model", parent=base,
                                            metrics={"final": {"loss": 1.23}, "summary": {"eval_loss": 1.31}})
    rm = job_services.model_version_create(name="rm-v1", kind="reward", artifact_path="/data/jobs/2/output/model", parent=sft,
                                           metrics={"summary": {"valid_pairwise_accuracy": 0.68, "valid_loss": 0.61}})
    now = timezone.now()
    ppo = Job.objects.create(
        kind="ppo", status="succeeded", params={"max_steps": 60, "learning_rate": 1e-5}, progress=1.0, attempts=1,
        started_at=now - timedelta(minutes=9), finished_at=now - timedelta(minutes=1), heartbeat_at=now - timedelta(minutes=1),
        metrics=_metric_rows(60), output_dir="/data/jobs/3/output",
        result={"result": {"status": "succeeded", "summary": {"reward_mean_last": 0.42}}}, log_tail=f"step 60/60\n{XSS}\ndone",
    )
    ppo.input_snapshots.set([prompts])
    ppo.input_models.set([sft, rm])
    policy = job_services.model_version_create(name="ppo-v1", kind="policy", artifact_path="/data/jobs/3/output/model", parent=sft,
                                               reward_model=rm, metrics={"summary": {"reward_mean_last": 0.42, "kl_last": 0.03},
                                                                         "win_rate": 0.625})
    policy.job = ppo
    policy.save(update_fields=["job"])
    evaluate = Job.objects.create(
        kind="evaluate", status="succeeded", progress=1.0, attempts=1, started_at=now, finished_at=now, heartbeat_at=now,
        result={"result": {"mode": "winrate", "win_rate_b_over_a": 0.625, "prompts": 8, "mean_reward_a": -0.12,
                           "mean_reward_b": 0.31, "policy_a": sft.artifact_path, "policy_b": policy.artifact_path}},
    )
    evaluate.input_snapshots.set([prompts])
    evaluate.input_models.set([rm, sft, policy])
    running = Job.objects.create(kind="sft", status="running", progress=0.4, attempts=1, started_at=now, heartbeat_at=now,
                                 params={"max_steps": 200}, metrics=_metric_rows(8))
    failed = Job.objects.create(kind="dpo", status="failed", attempts=1, error=f"bad config: {XSS}", finished_at=now)
    return {"support": support, "ppo": ppo, "evaluate": evaluate, "running": running, "failed": failed, "sft": sft}


def test_researcher_exports_snapshot_runs_and_cancels_job_and_reads_plots(page: Page, shot, research_setup, enqueued):
    login(page, "rita")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Research").click()
    expect(page.get_by_role("heading", name="Snapshots", exact=True)).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("support-prompts-v1"))).to_contain_text("prompts")

    # Export: a bad name, then nothing to export, are shown inline; then a real export.
    form = page.locator("form.snapshot-form")
    form.get_by_label("Kind").select_option("comparisons")
    form.get_by_label("Unlabeled brainstorms").check()
    form.get_by_label("Name (optional)").fill("bad name!")
    form.get_by_role("button", name="Export snapshot").click()
    expect(form.get_by_role("alert").filter(has_text="letters, digits")).to_be_visible()
    form.get_by_label("Name (optional)").fill("support-comparisons-v1")
    form.get_by_role("button", name="Export snapshot").click()
    expect(form.get_by_role("alert").filter(has_text="nothing to export")).to_be_visible()
    form.get_by_label("Unlabeled brainstorms").uncheck()
    form.get_by_label("Support rankings").check()
    form.get_by_role("button", name="Export snapshot").click()
    expect(page.get_by_role("status").filter(has_text="Exported support-comparisons-v1")).to_be_visible()
    row = page.get_by_role("row", name=re.compile("support-comparisons-v1"))
    expect(row).to_contain_text("comparisons")
    expect(row).to_contain_text("Support rankings")
    snap = DatasetSnapshot.objects.get(name="support-comparisons-v1")
    assert snap.rows == 8 and snap.kind == "comparisons" and snap.created_by.username == "rita"
    expect(row).to_contain_text(snap.sha256[:12])
    shot(page, "10-research-snapshots")

    # Models: lineage and headline metrics; register a base model.
    page.get_by_role("navigation", name="Research pages").get_by_role("link", name="Models").click()
    ppo_row = page.get_by_role("row", name=re.compile("^ppo-v1"))
    expect(ppo_row.get_by_role("cell").nth(2)).to_have_text("sft-v1")
    expect(ppo_row.get_by_role("cell").nth(3)).to_have_text("rm-v1")
    expect(ppo_row).to_contain_text("win_rate 62.5 %")
    expect(page.get_by_role("row", name=re.compile("^rm-v1"))).to_contain_text("valid_pairwise_accuracy 68.0 %")
    page.get_by_label("Name", exact=True).fill("smollm2-base")
    page.get_by_label("Artifact path").fill("smollm2-135m-instruct")
    page.get_by_role("button", name="Register model").click()
    expect(page.get_by_role("row", name=re.compile("smollm2-base"))).to_contain_text("base")
    shot(page, "11-research-models")

    # Jobs: the list refreshes itself while a job runs.
    page.get_by_role("navigation", name="Research pages").get_by_role("link", name="Jobs").click()
    running = research_setup["running"]
    expect(page.get_by_label(f"Progress of job {running.id}")).to_have_attribute("value", "40")
    Job.objects.filter(pk=running.pk).update(progress=0.75, heartbeat_at=timezone.now())
    expect(page.get_by_label(f"Progress of job {running.id}")).to_have_attribute("value", "75", timeout=10_000)
    expect(page.get_by_role("row", name=re.compile(f"Job #{research_setup['failed'].id}"))).to_contain_text("failed")
    shot(page, "12-research-jobs")

    # A new reward-model job: it is queued (and would be sent to the gpu queue).
    page.get_by_role("link", name="New job").click()
    page.get_by_label("Reward model").check()
    page.get_by_label(re.compile("^Input snapshot")).select_option(label=f"support-comparisons-v1 (comparisons, 8 rows)")
    page.get_by_label(re.compile("^Start from model")).select_option(label="sft-v1 (sft)")
    page.get_by_label(re.compile("^Max steps")).fill("50")
    expect(page.get_by_label(re.compile("^Params JSON"))).to_have_value(re.compile(r'"max_steps": 50'))
    shot(page, "13-research-new-job")
    page.get_by_role("button", name="Start Reward model job").click()
    expect(page.get_by_role("heading", name=re.compile(r"Job #\d+ · reward"))).to_be_visible()
    job = Job.objects.order_by("-id").first()
    assert (job.kind, job.status, job.params) == ("reward", "queued", {"max_steps": 50})
    assert list(job.input_snapshots.values_list("name", flat=True)) == ["support-comparisons-v1"]
    assert enqueued == [job.id]

    # Cancel it (with a confirmation).
    page.get_by_role("button", name="Cancel job").click()
    dialog = page.get_by_role("dialog", name=f"Cancel job #{job.id}?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Yes, cancel the job").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".research-head .status")).to_have_text("cancelled")
    job.refresh_from_db()
    assert job.status == "cancelled"

    # A finished PPO job: one plot per logged metric, the log as text.
    ppo = research_setup["ppo"]
    page.goto(f"/research/jobs/{ppo.id}")
    expect(page.get_by_role("heading", name=f"Job #{ppo.id} · ppo")).to_be_visible()
    for metric in ("loss", "reward", "kl", "lr", "tokens_per_s"):
        expect(page.get_by_role("img", name=metric, exact=True)).to_be_visible()
    expect(page.get_by_role("img", name="progress", exact=True)).to_have_count(0)
    expect(page.locator("figure.line-chart svg path.series")).to_have_count(5)
    expect(page.locator("pre.log")).to_contain_text("<script>alert(1)</script>")
    expect(page.get_by_role("link", name="ppo-v1")).to_be_visible()
    shot(page, "14-research-job-detail", full_page=True)

    # Does the new policy win? The evaluate job says so, big.
    evaluate = research_setup["evaluate"]
    page.goto(f"/research/jobs/{evaluate.id}")
    verdict = page.get_by_role("region", name="Does the new policy win?")
    expect(verdict).to_contain_text("62.5 %")
    expect(verdict).to_contain_text("Yes: the new policy wins")
    expect(verdict).to_contain_text("8 prompts")
    shot(page, "15-research-evaluate")

    # A failed job's error is text, never HTML.
    page.goto(f"/research/jobs/{research_setup['failed'].id}")
    expect(page.get_by_role("region", name="Error")).to_contain_text("bad config: <script>alert(1)</script>")
    assert page.locator("main img[src='x']").count() == 0
    page.watch.allow_http_error(400, "/api/v1/snapshots")  # the two refused exports above
    page.watch.assert_clean()


def test_labeler_has_no_research_nav_and_gets_403(page: Page, shot, research_setup):
    login(page, "lars")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Labeling")).to_be_visible()
    expect(nav.get_by_role("link", name="Research")).to_have_count(0)
    page.goto("/research/jobs")
    expect(page.get_by_role("alert")).to_contain_text("403")
    expect(page.get_by_role("alert")).to_contain_text("researcher")
    shot(page, "16-research-forbidden")
    page.watch.assert_clean()


def test_research_screens_have_no_serious_accessibility_violations(axe_page: Page, research_setup):
    page = axe_page
    login(page, "rita")
    for path, heading in [("/research/snapshots", "Snapshots"), ("/research/models", "Models"),
                          ("/research/jobs", "Jobs"), ("/research/jobs/new", "New job"),
                          (f"/research/jobs/{research_setup['ppo'].id}", re.compile(r"Job #\d+ · ppo")),
                          (f"/research/jobs/{research_setup['evaluate'].id}", re.compile(r"Job #\d+ · evaluate"))]:
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, exact=True) if isinstance(heading, str)
               else page.get_by_role("heading", name=heading)).to_be_visible()
        page.wait_for_load_state("networkidle")
        audit(page, path)
