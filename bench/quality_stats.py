"""Why two quality statistics are computed by hand: each against the library call it replaces, same data, same run.

    .venv/bin/python bench/quality_stats.py                 # 3000 tasks x 3 labelers, K=4
    .venv/bin/python bench/quality_stats.py --tasks 500

- Kendall τ-b per (labeler, task): ``ranking_math.kendall_tau_b`` vs ``scipy.stats.kendalltau`` (same values;
  tests/labeling/test_agreement_math.py checks they are equal).
- The bootstrap CI of ordinal α: resampled coincidence matrices (``ranking_math.bootstrap_alpha``) vs refitting
  ``krippendorff.alpha`` on every resample (the point estimate is always the library's).

Prints seconds for each and the ratio. No database.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

import krippendorff  # noqa: E402
from scipy.stats import kendalltau  # noqa: E402

from labeling.selectors.ranking_math import bootstrap_alpha, coincidences, kendall_tau_b, rank_of  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--boot", type=int, default=200, help="bootstrap resamples for the α comparison")
    args = parser.parse_args()
    rng = random.Random(0)
    items = list(range(4))
    pairs = [(rank_of([[c] for c in rng.sample(items, 4)]), rank_of([[c] for c in rng.sample(items, 4)]))
             for _ in range(args.tasks * 3)]

    began = time.perf_counter()
    ours = [kendall_tau_b(a, b) for a, b in pairs]
    hand = time.perf_counter() - began
    began = time.perf_counter()
    theirs = [kendalltau([a[i] for i in items], [b[i] for i in items], variant="b").statistic for a, b in pairs]
    library = time.perf_counter() - began
    assert np.allclose(ours, theirs)
    print(f"tau-b x{len(pairs)}: by hand {hand:.3f}s, scipy {library:.3f}s -> {library / hand:.0f}x faster")

    nprng = np.random.default_rng(0)
    blocks = [nprng.integers(1, 8, size=(3, 4)).astype(float) for _ in range(args.tasks)]
    values = np.arange(1, 8)
    value = krippendorff.alpha(reliability_data=np.concatenate(blocks, axis=1), level_of_measurement="ordinal")
    began = time.perf_counter()
    per_task = np.stack([coincidences(b, values) for b in blocks])
    fig = bootstrap_alpha(per_task, value, n_boot=args.boot)
    ours_s = time.perf_counter() - began
    began = time.perf_counter()
    refits = []
    for _ in range(args.boot):
        idx = nprng.integers(0, len(blocks), size=len(blocks))
        refits.append(krippendorff.alpha(reliability_data=np.concatenate([blocks[i] for i in idx], axis=1),
                                         level_of_measurement="ordinal"))
    refit_s = time.perf_counter() - began
    lo, hi = np.quantile(refits, [0.025, 0.975])
    print(f"alpha CI, {args.tasks} tasks x {args.boot} resamples: coincidences {ours_s:.3f}s "
          f"[{fig.ci_low:.4f}, {fig.ci_high:.4f}], library refits {refit_s:.3f}s [{lo:.4f}, {hi:.4f}] "
          f"-> {refit_s / ours_s:.0f}x faster")


if __name__ == "__main__":
    main()
