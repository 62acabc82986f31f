"""A simulated crowd with planted bad labelers (tests/labeling/crowd.py) through the quality selectors.

Checks the issue's acceptance: the signals flag exactly the planted labelers, the consensus
recovers the hidden true ranking better than any single labeler, and Krippendorff's α equals the
library's value computed straight from the stored ratings.
"""
import krippendorff
import numpy as np
import pytest

from crowd import PLANTED, simulate_crowd
from labeling.models import Rating
from labeling.selectors.agreement import campaign_agreement
from labeling.selectors.consensus import campaign_consensus
from labeling.selectors.ranking_math import kendall_tau_b, rank_of
from labeling.selectors.signals import campaign_labeler_signals

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowd():
    return simulate_crowd(tasks=50, k=4, honest=6, seed=7)


def _strict(order):
    return rank_of([[c] for c in order])


def test_signals_flag_exactly_the_planted_labelers(crowd):
    report = campaign_labeler_signals(campaign=crowd.campaign, n_boot=400)
    flags = {e["username"].split("-")[0]: set(e["flags"]) for e in report["labelers"]}
    print({name: sorted(f) for name, f in flags.items()})
    assert {name for name, f in flags.items() if f} == set(PLANTED)
    assert "position_bias" in flags["display"]
    assert "low_agreement" in flags["random"]
    assert {"speed", "straight_lining"} <= flags["careless"]
    assert not any("position_bias" in flags[name] for name in flags if name != "display")
    display = next(e for e in report["labelers"] if e["username"].startswith("display"))
    assert display["signals"]["position_bias"]["p_value"] < 1e-10
    assert display["signals"]["position_bias"]["examples"]  # the page shows which labels gave it away


def test_consensus_recovers_the_truth_better_than_any_single_labeler(crowd):
    consensus = {c["task_id"]: c for c in campaign_consensus(campaign_ids=[crowd.campaign.pk])}
    assert len(consensus) == len(crowd.truth)

    def mean_tau(rankings: dict):
        return np.mean([kendall_tau_b(rank_of(rankings[t]), _strict(crowd.truth[t])) for t in crowd.truth])

    merged = mean_tau({t: c["consensus"] for t, c in consensus.items()})
    single = {name: mean_tau({t: [[c] for c in order] for t, order in answers.items()})
              for name, answers in crowd.answers.items()}
    print(f"consensus tau-b vs truth {merged:.3f}; single labelers {({k: round(v, 3) for k, v in single.items()})}")
    assert merged > max(single.values())
    assert all(0 <= c["agreement"] <= 1 and c["pairs"] == 36 * 6 for c in consensus.values())  # C(9,2) × C(4,2)


def test_alpha_equals_the_library_on_the_stored_ratings_and_figures_carry_their_size(crowd):
    report = campaign_agreement(campaign=crowd.campaign, n_boot=200)
    overall = report["overall"]
    rows = Rating.objects.filter(assignment__campaign=crowd.campaign).values_list(
        "assignment__labeler_id", "assignment__task_id", "completion_id", "likert")
    labelers = sorted({r[0] for r in rows})
    units = sorted({(r[1], r[2]) for r in rows})
    data = np.full((len(labelers), len(units)), np.nan)
    for who, task, completion, likert in rows:
        data[labelers.index(who), units.index((task, completion))] = likert
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
    print(f"alpha likert {overall['alpha_likert']}; preferences {overall['alpha_preferences']}; "
          f"pairwise {overall['pairwise_agreement']}; tau_b {overall['kendall_tau_b']}")
    assert overall["alpha_likert"]["value"] == pytest.approx(expected, abs=1e-9)
    assert overall["alpha_likert"]["n_items"] == 50 * 4 and overall["alpha_likert"]["n_tasks"] == 50
    assert overall["pairwise_agreement"]["n_items"] == 50 * 36 * 6
    for figure in ("pairwise_agreement", "kendall_tau_b", "alpha_likert", "alpha_preferences"):
        f = overall[figure]
        assert f["ci_low"] <= f["value"] <= f["ci_high"], figure
    assert overall["gold_agreement"]["value"] is None  # no gold task in this campaign
    good = [e for e in report["labelers"] if e["username"].startswith("good")]
    bad = [e for e in report["labelers"] if e["username"].startswith("random")]
    assert min(e["kendall_tau_b"]["value"] for e in good) > bad[0]["kendall_tau_b"]["ci_high"]
    assert [c["category"] for c in report["by_category"]] == ["open_qa"]
    assert sum(w["pairwise_agreement"]["n_tasks"] for w in report["by_week"]) == 50
