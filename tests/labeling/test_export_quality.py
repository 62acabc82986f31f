"""Snapshots chosen by quality: rejected labels and screened-out labelers are left out, consensus rows
merge a task's rankings, and the manifest records the options and the agreement of what was exported."""
import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from crowd import simulate_crowd
from labeling.models import Assignment
from labeling.selectors.agreement import campaign_agreement, figures, task_agreements
from labeling.selectors.label_records import label_records
from labeling.selectors.signals import flagged_labeler_ids
from labeling.services.exports import labeler_hash, snapshot_create
from labeling.services.review import label_review_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.PREFLOOP_DATA_DIR = tmp_path / "data"
    return settings.PREFLOOP_DATA_DIR


@pytest.fixture
def crowd(db):
    return simulate_crowd(tasks=20, k=3, honest=5, seed=11)


def _rows(snapshot) -> list[dict]:
    folder = Path(snapshot.path)
    return [json.loads(line) for part in ("train", "valid")
            for line in (folder / f"{part}.jsonl").read_text().splitlines()]


def _manifest(snapshot) -> dict:
    return json.loads((Path(snapshot.path) / "manifest.json").read_text())


def test_rejected_labels_are_left_out_by_default_and_the_manifest_says_so(crowd, campaign_admin, data_dir):
    c = crowd.campaign.pk
    rejected = Assignment.objects.filter(campaign=crowd.campaign, labeler=crowd.users["random"]).order_by("id")[:2]
    for a in rejected:
        label_review_create(assignment_id=a.pk, reviewer=campaign_admin, decision="reject", reason="random")
    snap = snapshot_create(kind="comparisons", campaign_ids=[c], name="default", valid_fraction=0.0)
    assert len(_rows(snap)) == 20 * 8 - 2
    manifest = _manifest(snap)
    assert manifest["filters"]["quality"] == manifest["quality"]["options"] == {
        "exclude_rejected": True, "exclude_flagged": False, "min_labeler_agreement": None, "rankings": "raw"}
    assert manifest["quality"]["rankings_read"] == 20 * 8 - 2
    # The figures in the manifest are those of exactly the exported rankings.
    expected = figures(task_agreements(label_records(campaign_ids=[c])), n_boot=500)
    assert manifest["quality"]["agreement"]["pairwise_agreement"] == expected["pairwise_agreement"]
    with_rejected = snapshot_create(kind="comparisons", campaign_ids=[c], name="all", valid_fraction=0.0,
                                    quality={"exclude_rejected": False})
    assert len(_rows(with_rejected)) == 20 * 8


def test_flagged_and_low_agreement_labelers_are_screened_out(crowd, data_dir):
    c = crowd.campaign.pk
    flagged = snapshot_create(kind="comparisons", campaign_ids=[c], name="clean", valid_fraction=0.0,
                              quality={"exclude_flagged": True})
    raised = flagged_labeler_ids(campaign=crowd.campaign)
    names = {u.pk: name for name, u in crowd.users.items()}
    assert crowd.users["careless"].pk in raised and not {crowd.users[f"good{i}"].pk for i in range(5)} & raised, \
        sorted(names[pk] for pk in raised)
    kept = {row["labeler"] for row in _rows(flagged)}
    assert kept == {labeler_hash(u.pk) for u in crowd.users.values() if u.pk not in raised}
    manifest = _manifest(flagged)
    assert manifest["quality"]["excluded_labelers"] == {str(c): len(raised)}
    everyone = _manifest(snapshot_create(kind="comparisons", campaign_ids=[c], name="raw", valid_fraction=0.0))
    agreement = "pairwise_agreement"
    clean_value, all_value = (m["quality"]["agreement"][agreement]["value"] for m in (manifest, everyone))
    assert clean_value > all_value, (clean_value, all_value, sorted(names[pk] for pk in raised))

    report = campaign_agreement(campaign=crowd.campaign, n_boot=100)["labelers"]
    values = sorted(e["pairwise_agreement"]["value"] for e in report)
    threshold = round((values[3] + values[4]) / 2, 6)  # the better half passes
    strict = snapshot_create(kind="comparisons", campaign_ids=[c], name="strict", valid_fraction=0.0,
                             quality={"min_labeler_agreement": threshold})
    agreeing = {labeler_hash(e["labeler_id"]) for e in report if e["pairwise_agreement"]["value"] >= threshold}
    assert 0 < len(agreeing) < 8
    assert {row["labeler"] for row in _rows(strict)} == agreeing
    assert _manifest(strict)["quality"]["options"]["min_labeler_agreement"] == threshold
    with pytest.raises(ValidationError, match="nothing to export"):  # nobody agrees that well: said clearly
        snapshot_create(kind="comparisons", campaign_ids=[c], name="none", quality={"min_labeler_agreement": 1.0})


def test_consensus_rows_merge_each_task(crowd, data_dir):
    snap = snapshot_create(kind="comparisons", campaign_ids=[crowd.campaign.pk], name="consensus",
                           valid_fraction=0.0, quality={"rankings": "consensus", "exclude_flagged": True})
    rows = _rows(snap)
    assert len(rows) == 20
    for row in rows:
        assert (row["labeler"], row["ratings"]) == ("consensus", [])
        assert row["labelers"] == 8 - len(flagged_labeler_ids(campaign=crowd.campaign))
        assert sorted(i for g in row["ranking"] for i in g) == [0, 1, 2]
        assert 0 <= row["agreement"] <= 1
    assert _manifest(snap)["quality"]["options"]["rankings"] == "consensus"


@pytest.mark.parametrize("bad, key", [
    ({"rankings": "median"}, "quality.rankings"),
    ({"min_labeler_agreement": 2}, "quality.min_labeler_agreement"),
    ({"exclude_flagged": "yes"}, "quality.exclude_flagged"),
    ({"colour": "red"}, "quality"),
])
def test_bad_quality_options_are_named(crowd, data_dir, bad, key):
    with pytest.raises(ValidationError) as err:
        snapshot_create(kind="comparisons", campaign_ids=[crowd.campaign.pk], quality=bad)
    assert key in err.value.message_dict


def test_manifest_figures_come_from_an_even_sample_of_tasks_above_the_cap(crowd, data_dir, monkeypatch):
    from labeling.services import export_quality

    c = crowd.campaign.pk
    monkeypatch.setattr(export_quality, "MANIFEST_MAX_TASKS", 6)  # 20 tasks → every 4th task, 5 of them
    quality = _manifest(snapshot_create(kind="comparisons", campaign_ids=[c], name="sampled"))["quality"]
    assert quality["agreement_sample"] == {"tasks": 5, "of": 20, "every": 4}
    assert quality["rankings_read"] == 20 * 8  # the count is of every exported ranking, not of the sample
    tasks = sorted({r.task_id for r in label_records(campaign_ids=[c])})[::4]
    assert quality["agreement"] == figures(task_agreements(label_records(campaign_ids=[c], task_ids=tasks)), n_boot=500)
    assert quality["agreement"]["pairwise_agreement"]["n_tasks"] == 5
