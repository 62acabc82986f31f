"""Fixtures for training tests: a tiny random Llama built once per session (CPU, seconds)."""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One torch thread (the default of --threads honours it): tests run beside other jobs on 2 shared cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the machine has 2 cores shared by everyone
sys.path.insert(0, str(Path(__file__).parent))  # `import helpers` regardless of pytest's import mode


def pytest_configure(config):
    """Register the marker here too, so the tests run with or without the root pytest.ini."""
    config.addinivalue_line("markers", "slow: takes more than a minute (real SmolLM2 model)")


@pytest.fixture(scope="session")
def model_cache_dir(tmp_path_factory) -> Path:
    """A private model cache for the session (never the user's ~/.cache)."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def tiny_model_dir(model_cache_dir) -> Path:
    """Folder of the tiny random Llama + BPE tokenizer (built once per session)."""
    import torch

    from training.prepare import prepare_model

    torch.set_num_threads(1)  # tests run beside other jobs; one thread is faster than fighting for two
    return prepare_model("tiny", model_cache_dir)
