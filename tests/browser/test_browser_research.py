"""A researcher in a real browser: the snapshot list and an export (API errors shown inline), the model
registry with lineage by name, the job list refreshing itself while a job runs, an evaluate job's win rate;
a new SFT job from the form built by GET /job-kinds (suggested params, live estimate and its warning,
Idempotency-Key) and its page as it runs and finishes; an iteration started from its form, its stage table
advancing, cancelled and resumable; names and model samples that carry HTML stay text; a labeler gets no
research navigation and a 403 message. No worker runs here: jobs are recorded and "dispatched" to a list.
(The research screens' accessibility audit is in test_browser_a11y.py.)"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from labeling.jobs import services as job_services
from labeling.jobs.export_job import run_export
from labeling.models import DatasetSnapshot, Iteration, Job
from labeling.services.iterations import iteration_advance
from browser_support import XSS, login
from research_seed import dispatched, metric_rows, research_setup  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]


def test_researcher_exports_snapshot_reads_models_jobs_and_win_rate(page: Page, shot, research_setup):
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
    snap = DatasetSnapshot.objects.get(name="support-comparisons-v1")
    assert snap.rows == 8 and snap.kind == "comparisons" and snap.created_by.username == "rita"
    shot(page, "10-research-snapshots")

    # Models: lineage by name (parent, reward model, the snapshots its job read), never a path.
    page.get_by_role("navigation", name="Research pages").get_by_role("link", name="Models").click()
    ppo_row = page.get_by_role("row", name=re.compile("^ppo-v1"))
    expect(ppo_row.get_by_role("cell").nth(2)).to_have_text("sft-v1")
    expect(ppo_row.get_by_role("cell").nth(3)).to_have_text("rm-v1")
    expect(ppo_row.get_by_role("cell").nth(5)).to_have_text("support-prompts-v1")
    expect(ppo_row).to_contain_text("win_rate 62.5 %")
    expect(page.locator("main")).not_to_contain_text("/jobs/3/output")
    page.get_by_label("Name", exact=True).fill("smollm2-base")
    page.get_by_label("Artifact path").fill("smollm2-135m-instruct")
    page.get_by_role("button", name="Register model").click()
    expect(page.get_by_role("row", name=re.compile("smollm2-base"))).to_contain_text("base")
    shot(page, "11-research-models")

    # Jobs: the list refreshes itself while a job runs, and says how long each took.
    page.get_by_role("navigation", name="Research pages").get_by_role("link", name="Jobs").click()
    running = research_setup["running"]
    expect(page.get_by_label(f"Progress of job {running.id}")).to_have_attribute("value", "40")
    Job.objects.filter(pk=running.pk).update(progress=0.75, heartbeat_at=timezone.now())
    expect(page.get_by_label(f"Progress of job {running.id}")).to_have_attribute("value", "75", timeout=10_000)
    expect(page.get_by_role("row", name=re.compile(f"Job #{research_setup['failed'].id}"))).to_contain_text("failed")
    expect(page.get_by_role("row", name=re.compile(f"Job #{research_setup['ppo'].id}\\b"))).to_contain_text("8 min")
    shot(page, "12-research-jobs")

    # A finished PPO job: one plot per logged metric (the PPO signals too), the log as text, no heartbeat.
    ppo = research_setup["ppo"]
    page.goto(f"/research/jobs/{ppo.id}")
    expect(page.get_by_role("heading", name=f"Job #{ppo.id} · ppo")).to_be_visible()
    for metric in ("loss", "reward", "heldout_reward", "kl", "entropy", "response_length", "lr", "tokens_per_s"):
        expect(page.get_by_role("img", name=metric, exact=True)).to_be_visible()
    expect(page.get_by_role("img", name="progress", exact=True)).to_have_count(0)
    expect(page.locator("pre.log")).to_contain_text("<script>alert(1)</script>")
    expect(page.get_by_role("link", name="ppo-v1")).to_be_visible()
    facts = page.get_by_role("region", name="Status")
    expect(facts).to_contain_text("Duration")
    expect(facts).to_contain_text("8 min")
    expect(facts).not_to_contain_text("Heartbeat")
    shot(page, "14-research-job-detail", full_page=True)

    # Does the new policy win? The evaluate job says so, big, with its interval and counts, by model name.
    evaluate = research_setup["evaluate"]
    page.goto(f"/research/jobs/{evaluate.id}")
    verdict = page.get_by_role("region", name="Does the new policy win?")
    expect(verdict).to_contain_text("62.5 %")
    expect(verdict).to_contain_text("Yes: the new policy wins")
    expect(verdict).to_contain_text("52.0 % – 72.0 %")
    expect(verdict).to_contain_text("B won 12 · A won 5 · ties 3 · identical 0 · of 20 pairs")
    expect(verdict).to_contain_text("sft-v1")
    expect(verdict).to_contain_text("ppo-v1")
    shot(page, "15-research-evaluate")

    # Every comparison between identical texts: said so, never "Even".
    result = evaluate.result
    result["result"].update(win_rate_b_over_a=0.5, ci_low=0.39, ci_high=0.61, wins_a=0, wins_b=0, ties=0, identical=20)
    Job.objects.filter(pk=evaluate.pk).update(result=result)
    page.reload()
    expect(verdict).to_contain_text("every comparison was between identical texts")
    expect(verdict).not_to_contain_text("Even")

    # A failed job's error is text, never HTML.
    page.goto(f"/research/jobs/{research_setup['failed'].id}")
    expect(page.get_by_role("region", name="Error")).to_contain_text("bad config: <script>alert(1)</script>")
    assert page.locator("main img[src='x']").count() == 0
    page.watch.allow_http_error(400, "/api/v1/snapshots")  # the two refused exports above
    page.watch.assert_clean()


def test_researcher_starts_sft_job_from_the_kind_form_and_watches_it(page: Page, shot, research_setup, dispatched):
    login(page, "rita")
    page.goto("/research/jobs/new")
    form = page.get_by_role("form", name="New job")
    expect(form.get_by_role("radio", name="SFT")).to_be_checked()
    # Fields and their suggested values come from GET /job-kinds; advanced ones are folded away.
    expect(form.get_by_label(re.compile("^Max steps"))).to_have_value("20")
    expect(form.get_by_label(re.compile("^Batch size"))).to_have_value("4")
    expect(form.get_by_label(re.compile("^Weight decay"))).to_be_hidden()
    # Inputs by name, only of the kinds the input accepts (no prompts snapshot for SFT data, no paths).
    demos = research_setup["demos"]
    data = form.get_by_label(re.compile("^Demonstrations"))
    expect(data.locator("option")).to_have_text(["choose…", f"support-demos-v1 (sft, {demos.rows} rows)"])
    data.select_option(label=f"support-demos-v1 (sft, {demos.rows} rows)")
    model = form.get_by_label(re.compile("^Start from model"))
    expect(model.locator("option", has_text="rm-v1")).to_have_count(0)
    expect(model.locator("option", has_text="/")).to_have_count(0)

    # The estimate follows the form; a run of hours is warned about, prominently.
    model.select_option(label="tiny-base (base)")
    estimate = page.get_by_role("region", name="Run-time estimate")
    expect(estimate).to_contain_text(re.compile(r"about \d+"))
    expect(estimate.get_by_role("alert")).to_have_count(0)
    form.get_by_label(re.compile("^Max steps")).fill("2000000")
    expect(estimate.get_by_role("alert")).to_contain_text("would take about")
    shot(page, "13-research-new-job-warning")
    # The raw JSON view edits the same params; back in the fields, the edit is kept.
    form.get_by_label("Edit the params as JSON").check()
    params_json = form.get_by_label("Params JSON")
    expect(params_json).to_have_value(re.compile(r'"max_steps": 2000000'))
    params_json.fill(params_json.input_value().replace('"max_steps": 2000000', '"max_steps": 20'))
    form.get_by_label("Edit the params as JSON").uncheck()
    expect(form.get_by_label(re.compile("^Max steps"))).to_have_value("20")
    expect(estimate.get_by_role("alert")).to_have_count(0)
    expect(estimate).to_contain_text("80 examples")  # 20 suggested steps × batch 4
    shot(page, "13-research-new-job")

    form.get_by_role("button", name="Start SFT job").click()
    expect(page.get_by_role("heading", name=re.compile(r"Job #\d+ · sft"))).to_be_visible()
    job = Job.objects.order_by("-id").first()
    assert job.kind == "sft" and job.status == "queued" and dispatched == [job.id]
    assert job.params["max_steps"] == 20 and job.params["batch_size"] == 4 and job.params["max_length"] == 256
    assert {k: v["name"] for k, v in job.inputs.items()} == {"model": "tiny-base", "data": "support-demos-v1"}
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", job.idempotency_key)
    io = page.get_by_role("region", name="Inputs and outputs")
    expect(io.get_by_role("link", name="support-demos-v1")).to_be_visible()
    expect(io.get_by_role("link", name="tiny-base")).to_be_visible()
    banner = page.get_by_role("status").filter(has_text=f"Job #{job.id} queued")
    expect(banner).to_be_visible()

    # It starts: the "queued" banner goes; it finishes: a duration, no heartbeat.
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(status="running", started_at=now, heartbeat_at=now, progress=0.5, attempts=1,
                                         metrics=metric_rows(4))
    expect(page.get_by_label("Job progress")).to_have_attribute("value", "50", timeout=10_000)
    expect(banner).to_have_count(0)
    facts = page.get_by_role("region", name="Status")
    expect(facts).to_contain_text("Heartbeat")
    Job.objects.filter(pk=job.pk).update(status="succeeded", progress=1.0, finished_at=now + timedelta(seconds=95))
    expect(facts).to_contain_text("1 min 35 s", timeout=10_000)
    expect(facts).not_to_contain_text("Heartbeat")
    shot(page, "17-research-sft-job-finished")
    page.watch.assert_clean()


def test_researcher_starts_an_iteration_and_watches_its_stages(page: Page, shot, research_setup, dispatched):
    login(page, "rita")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Research").click()
    page.get_by_role("navigation", name="Research pages").get_by_role("link", name="Iterations").click()
    expect(page.get_by_text("No iterations yet")).to_be_visible()
    page.get_by_role("link", name="New iteration").click()
    form = page.get_by_role("form", name="New iteration")
    form.get_by_role("button", name="Start iteration").click()
    expect(form.get_by_role("alert").filter(has_text="Pick at least one campaign")).to_be_visible()
    form.get_by_label("Name (optional)").fill("round-1")
    form.get_by_role("checkbox", name=re.compile("^Support rankings")).check()
    # An already fine-tuned base model may stand in for the SFT stage: then no SFT params are shown.
    skip_sft = form.get_by_role("checkbox", name=re.compile("^Skip SFT"))
    form.get_by_label(re.compile("^Base model")).select_option(label="sft-v1 (sft)")
    skip_sft.check()
    expect(form.locator("summary", has_text="SFT parameters")).to_have_count(0)
    skip_sft.uncheck()
    form.get_by_label(re.compile("^Base model")).select_option(label="tiny-base (base)")
    expect(skip_sft).to_be_disabled()  # a base model is not fine-tuned
    form.get_by_role("radio", name="DPO").check()
    # Per-stage params are folded, prefilled with the suggested values; only changed ones are sent.
    form.locator("summary", has_text="SFT parameters").click()
    sft_steps = form.locator("details", has_text="SFT parameters").get_by_label(re.compile("^Max steps"))
    expect(sft_steps).to_have_value("20")
    sft_steps.fill("12")
    shot(page, "18-research-new-iteration")
    form.get_by_role("button", name="Start iteration").click()

    expect(page.get_by_role("heading", name="Iteration round-1")).to_be_visible()
    it = Iteration.objects.get(name="round-1")
    assert (it.method, it.params, it.base_model.name) == ("dpo", {"sft": {"max_steps": 12}}, "tiny-base")
    stages = page.get_by_role("region", name="Stages")
    for name in ("export", "sft", "reward", "dpo", "generate", "evaluate"):
        expect(stages.get_by_role("row", name=re.compile(f"^{name}\\b"))).to_be_visible()
    export = it.jobs.get(stage="export")
    assert dispatched == [export.id]
    expect(stages.get_by_role("row", name=re.compile("^export"))).to_contain_text("queued")

    # The export runs (in this process) and the round advances: the page follows by itself.
    assert run_export(export.id) == "succeeded"
    iteration_advance(iteration_id=it.id)
    sft_job = it.jobs.get(stage="sft")
    export_row = stages.get_by_role("row", name=re.compile("^export"))
    expect(export_row).to_contain_text("succeeded", timeout=10_000)
    expect(export_row).to_contain_text("rows")
    sft_row = stages.get_by_role("row", name=re.compile("^sft"))
    expect(sft_row.get_by_role("link", name=f"Job #{sft_job.id}")).to_be_visible()
    expect(sft_row).to_contain_text("queued")
    assert sft_job.params["max_steps"] == 12
    round_facts = page.get_by_role("region", name="Round")
    for kind in ("sft", "comparisons", "prompts"):  # the export's snapshots, by name
        expect(round_facts.get_by_role("link", name=f"round-1-{kind}")).to_be_visible()
    expect(page.get_by_role("button", name="Resume")).to_have_count(0)
    shot(page, "19-research-iteration", full_page=True)

    # Cancel (confirmed): the live stage's job is cancelled; then it can be resumed.
    page.get_by_role("button", name="Cancel iteration").click()
    dialog = page.get_by_role("dialog", name=f"Cancel iteration #{it.id}?")
    dialog.get_by_role("button", name="Yes, cancel the iteration").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".research-head .status")).to_have_text("cancelled")
    expect(sft_row).to_contain_text("cancelled")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator(".research-head .status")).to_have_text("running")
    resumed = it.jobs.filter(stage="sft").order_by("-id").first()
    assert resumed.id != sft_job.id and resumed.status == "queued"
    expect(sft_row.get_by_role("link", name=f"Job #{resumed.id}")).to_be_visible()

    # The list shows it, with how far it got; the job list names its stage.
    page.get_by_role("navigation", name="Research pages").get_by_role("link", name="Iterations").click()
    expect(page.get_by_role("row", name=re.compile("round-1"))).to_contain_text("1 of 6 stages done")

    # An automatic trigger for the campaign: a new round after every 500 new rankings.
    trigger = page.get_by_role("form", name="Automatic iterations")
    trigger.get_by_label("Campaign", exact=True).select_option(label="Support rankings")
    trigger.get_by_label("After this many new rankings").fill("500")
    trigger.get_by_label("Method").select_option("dpo")
    trigger.get_by_role("button", name="Save trigger").click()
    expect(trigger.get_by_role("status")).to_contain_text("after every 500 new rankings")
    support = research_setup["support"]
    support.refresh_from_db()
    assert (support.iteration_every_rankings, support.iteration_template["method"]) == (500, "dpo")
    shot(page, "20-research-iterations", full_page=True)
    page.reload()
    trigger.get_by_label("Campaign", exact=True).select_option(label="Support rankings")
    expect(trigger.get_by_label("After this many new rankings")).to_have_value("500")
    page.get_by_role("navigation", name="Research pages").get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("row", name=re.compile(f"Job #{resumed.id}\\b"))).to_contain_text(f"#{it.id} sft")
    page.watch.allow_http_error(400, "/api/v1/iterations")
    page.watch.assert_clean()


def test_names_and_samples_with_html_stay_text(page: Page, shot, research_setup):
    data = research_setup["data"]
    evil_model = job_services.model_version_create(name=f"m {XSS}", kind="sft", artifact_path=f"{data}/evil",
                                                   parent=research_setup["base"])
    DatasetSnapshot.objects.filter(pk=research_setup["demos"].pk).update(name=f"s {XSS}")
    rows = metric_rows(3)
    rows[-1].update(warning=f"reward hacking? {XSS}",
                    samples=[{"prompt": f"p {XSS}", "response": f"r {XSS} <b>bold</b>", "reward": 1.25}])
    job = Job.objects.create(
        kind="ppo", status="running", progress=0.3, attempts=1, started_at=timezone.now(), heartbeat_at=timezone.now(),
        metrics=rows, inputs={"model": {"type": "model", "id": evil_model.id, "name": evil_model.name},
                              "prompts": {"type": "snapshot", "id": research_setup["demos"].id, "name": f"s {XSS}"}})
    job.input_models.set([evil_model])
    job.input_snapshots.set([research_setup["demos"]])
    evil_model.job = job
    evil_model.save(update_fields=["job"])
    login(page, "rita")

    page.goto(f"/research/jobs/{job.id}")
    expect(page.get_by_role("alert").filter(has_text="reward hacking?")).to_contain_text("<img src=x onerror=alert(1)>")
    samples = page.get_by_role("region", name=re.compile("^Latest samples"))
    expect(samples).to_contain_text(f"r {XSS} <b>bold</b>")
    expect(samples).to_contain_text("reward 1.25")
    expect(page.get_by_role("region", name="Inputs and outputs").get_by_role("link", name=f"m {XSS}")).to_have_count(2)  # in and out
    shot(page, "21-research-samples-as-text", full_page=True)
    page.goto("/research/models")
    expect(page.get_by_role("row", name=re.compile(r"^m <script>"))).to_contain_text("s <script>")
    page.goto("/research/jobs/new")
    expect(page.get_by_label(re.compile("^Start from model")).locator("option", has_text="<script>")).to_have_count(1)
    expect(page.get_by_label(re.compile("^Demonstrations")).locator("option", has_text="<img")).to_have_count(1)
    page.goto("/research/jobs")
    expect(page.get_by_role("row", name=re.compile(f"Job #{job.id}\\b"))).to_contain_text(f"m {XSS}")

    assert page.locator("img[src='x'], main b").count() == 0
    page.watch.assert_clean()  # no alert() dialog ever opened


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


def _fill_sft_form(page: Page, research_setup) -> None:
    page.goto("/research/jobs/new")
    demos = research_setup["demos"]
    page.get_by_label(re.compile("^Start from model")).select_option(label="tiny-base (base)")
    page.get_by_label(re.compile("^Demonstrations")).select_option(label=f"support-demos-v1 (sft, {demos.rows} rows)")


def test_job_creation_is_safe_to_retry_and_survives_a_broker_outage(page: Page, research_setup, monkeypatch):
    login(page, "rita")
    before = Job.objects.count()

    # The answer to the first POST is lost (the job was made): the retry sends the same Idempotency-Key and
    # lands on that job; no second job is made.
    lost = []

    def lose_first_answer(route):
        if route.request.method == "POST" and not lost:
            lost.append(route.fetch().status)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/v1/jobs", lose_first_answer)
    _fill_sft_form(page, research_setup)
    page.get_by_role("button", name="Start SFT job").click()
    expect(page.get_by_role("alert").filter(has_text="Could not reach the server")).to_be_visible()
    assert lost == [201] and Job.objects.count() == before + 1
    page.get_by_role("button", name="Start SFT job").click()
    expect(page.get_by_role("heading", name=re.compile(r"Job #\d+ · sft"))).to_be_visible()
    job = Job.objects.order_by("-id").first()
    expect(page.get_by_role("heading", name=f"Job #{job.id} · sft")).to_be_visible()
    assert Job.objects.count() == before + 1
    page.unroute("**/api/v1/jobs")

    # The broker is down: the job is recorded (503 with its id) and the page says it will be sent later.
    monkeypatch.setattr(job_services, "job_dispatch", lambda *, job_id: False)
    _fill_sft_form(page, research_setup)
    page.get_by_role("button", name="Start SFT job").click()
    expect(page.get_by_role("status").filter(has_text="dispatched automatically")).to_be_visible()
    queued = Job.objects.order_by("-id").first()
    assert queued.id != job.id and queued.status == "queued" and queued.dispatched_at is None
    expect(page.get_by_role("heading", name=f"Job #{queued.id} · sft")).to_be_visible()
    page.watch.allow_http_error(503, "/api/v1/jobs")
    page.watch.console_errors = [e for e in page.watch.console_errors if "ERR_CONNECTION_RESET" not in e]
    page.watch.assert_clean()
