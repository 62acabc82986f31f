"""``manage.py simulate_loop`` (``make loop``): simulated labelers drive the API, the queue, snapshots, two
iterations' jobs and the evaluation, on the tiny model. With noise-free labelers the noise ceiling must be
exactly 1 (every labelled pair agrees with the hidden preference), and the round's numbers must be real."""
from __future__ import annotations

import json
import random
from io import StringIO

import pytest
from django.core.management import call_command

from labeling.models import Iteration, Ranking
from labeling.simulation import HiddenPreference, pair_accuracy

TINY = {"device": "cpu", "max_steps": 2, "batch_size": 2, "max_length": 96, "logging_steps": 1, "save_steps": 0}


def test_hidden_preference_ranks_by_its_rule_and_noise_flips_some_pairs():
    pref = HiddenPreference("marker:please")
    items = [(1, "no"), (2, "please please"), (3, "Please, yes"), (4, "please")]
    assert pref.ranking(items, 0.0, random.Random(0)) == [[2], [3, 4], [1]]
    flips = [pref.ranking([(1, "please"), (2, "x")], 1.0, random.Random(s))[0] == [2] for s in range(400)]
    assert 0.15 < sum(flips) / len(flips) < 0.35  # P(N(0,1) - N(0,1) > 1) ≈ 0.24
    assert HiddenPreference("shorter").ranking([(1, "abc"), (2, "a")], 0.0, random.Random(0)) == [[2], [1]]
    assert pair_accuracy([(2, 1), (1, 1), (0, 1)]) == 0.5
    with pytest.raises(ValueError):
        HiddenPreference("marker:")


def test_demonstrations_are_on_topic_and_vary_in_length_and_wording():
    """Demonstrators are not optimising the hidden preference: their answers spread, so the rankings teach."""
    rng = random.Random(0)
    demos = [HiddenPreference("shorter").demonstration("Tell me about owls.", rng) for _ in range(60)]
    assert all(": Tell me about owls. " in d for d in demos)
    assert len({d.count(".") for d in demos}) == 3  # one to three sentences after the restated request
    assert len(set(demos)) > 30
    marked = [HiddenPreference("marker:please").demonstration("Tell me about owls.", rng) for _ in range(60)]
    assert 10 < sum("Please" in d for d in marked) < 50


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # jobs are dispatched after their commit, as in production
def test_two_simulated_rounds_through_the_real_system(data_dir, model_cache, settings, tmp_path, monkeypatch):
    from django.contrib.auth.models import Group

    from labeling import roles

    for role in roles.ALL_ROLES:  # a transactional test's flush removes the migration's groups
        Group.objects.get_or_create(name=role)
    settings.PREFLOOP_MODEL_CACHE = str(model_cache)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"sft": TINY, "reward": TINY, "dpo": TINY,
                                  "ppo": {**TINY, "batch_size": 4, "mini_batch_size": 2, "ppo_epochs": 1,
                                          "max_new_tokens": 8, "max_prompt_length": 48},
                                  "generate": {"max_new_tokens": 8}, "evaluate": {"max_new_tokens": 8}}))
    out = StringIO()
    call_command("simulate_loop", rounds=2, labelers=2, noise=0.0, overlap=2, extra_prompts=4, params=str(params),
                 stdout=out)
    lines = out.getvalue().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("round |"))
    cells = [c.strip() for c in lines[header + 1].split("|")]
    # 24 demo prompts + 4 templated ones, each task labelled by both labelers (overlap 2)
    assert cells[:3] == ["1", "56", "56"]  # every demonstration and every first ranking task, twice
    rm_noisy, ceiling, rm_clean, ppo_win = (float(c) for c in cells[3:7])
    assert ceiling == 1.0 and 0.0 <= rm_noisy <= 1.0 and 0.0 <= rm_clean <= 1.0 and 0.0 <= ppo_win <= 1.0
    first, second = Iteration.objects.order_by("id")
    assert first.status == second.status == "succeeded"
    # Round 1 builds on the warm-start SFT model instead of training the same SFT again, round 2 on round 1's
    # policy (its reward model, PPO and evaluation start from that policy).
    assert first.skip_sft and first.base_model.kind == "sft" and not first.jobs.filter(stage="sft").exists()
    assert second.skip_sft and second.base_model.job.iteration_id == first.pk and second.base_model.kind == "policy"
    assert not second.jobs.filter(stage="sft").exists()
    assert second.jobs.get(stage="reward").inputs["model"]["id"] == second.base_model_id
    cells = [c.strip() for c in lines[header + 2].split("|")]
    assert cells[0] == "2" and int(cells[2]) > 56  # round 2's rankings: the policy's samples, on top of round 1's
