"""The split of a snapshot by prompt author (DESIGN §4), decided from the authors alone.

A stable hash of ``(seed, author)`` puts an author in train or valid, so no author straddles the two
and an author keeps its side across snapshots (InstructGPT split by customer id). Two corrections
keep both sides useful: with ``valid_fraction > 0`` and at least two authors, valid is never left
empty (the author with the smallest bucket goes there), and valid never takes every author (the
largest bucket trains).

Both corrections only need the smallest and the largest bucket, so ``AuthorSplit`` is built from
one pass over the distinct authors (a streaming query) and then answers row by row without holding
the rows: an export of any size keeps a constant amount of memory for its split.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache


def author_key(author_id: str, prompt_id: int) -> str:
    """A prompt's author for the split; a prompt without one is its own author."""
    return author_id or f"prompt:{prompt_id}"


@lru_cache(maxsize=65536)  # bounded: rows of one author tend to come together; the cache never grows past this
def author_bucket(author: str, seed: int) -> float:
    """A number in [0, 1) fixed by ``(seed, author)``; authors below ``valid_fraction`` go to valid."""
    digest = hashlib.sha256(f"{seed}:{author}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class AuthorSplit:
    """Which side each author is on, from the distinct authors' buckets (see the module docstring)."""

    valid_fraction: float
    seed: int
    forced_valid: str | None = None
    forced_train: str | None = None
    authors: dict[str, int] = field(default_factory=lambda: {"train": 0, "valid": 0})

    @classmethod
    def from_authors(cls, authors: Iterable[str], *, valid_fraction: float, seed: int) -> AuthorSplit:
        """Build the split from the distinct authors of the rows (each given once, in any order)."""
        n = n_valid = 0
        lowest = highest = None  # (bucket, author)
        for author in authors:
            bucket = author_bucket(author, seed)
            n += 1
            n_valid += bucket < valid_fraction
            if lowest is None or bucket < lowest[0]:
                lowest = (bucket, author)
            if highest is None or bucket > highest[0]:
                highest = (bucket, author)
        split = cls(valid_fraction=valid_fraction, seed=seed)
        if valid_fraction > 0 and n_valid == 0 and n >= 2:
            split.forced_valid, n_valid = lowest[1], 1
        elif n_valid and n_valid == n:
            split.forced_train, n_valid = highest[1], n_valid - 1  # keep some training data
        split.authors = {"train": n - n_valid, "valid": n_valid}
        return split

    def is_valid(self, author: str) -> bool:
        if author == self.forced_train:
            return False
        if author == self.forced_valid:
            return True
        return author_bucket(author, self.seed) < self.valid_fraction


@dataclass
class _Split:
    train: list[tuple[str, dict]] = field(default_factory=list)  # (author, row)
    valid: list[tuple[str, dict]] = field(default_factory=list)


def split_by_author(rows: Iterable[tuple[str, dict]], *, valid_fraction: float, seed: int) -> _Split:
    """Assign each (author, row) to train or valid, in memory (the rule ``AuthorSplit`` applies to a stream)."""
    rows = list(rows)
    decide = AuthorSplit.from_authors({a for a, _ in rows}, valid_fraction=valid_fraction, seed=seed)
    split = _Split()
    for author, row in rows:
        (split.valid if decide.is_valid(author) else split.train).append((author, row))
    return split
