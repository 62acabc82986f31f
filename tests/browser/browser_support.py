"""Shared by the browser tests: test data made through the backend's services (the path the API takes),
and the login step. (A distinct module name: test folders here are on sys.path, not packages.)"""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from labeling import roles
from labeling.models import Campaign
from labeling.services.campaigns import campaign_activate, campaign_create
from labeling.services.prompts import prompt_row_from_dict, prompts_create
from labeling.services.users import user_create_with_role

PASSWORD = "correct-horse-42"

GUIDELINES = """# How to rank

Prefer outputs that are **helpful**, **truthful** and **harmless**.

- Ties are fine when two outputs are equally good.
- Read the [InstructGPT paper](https://arxiv.org/abs/2203.02155) for background.
"""

XSS = "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))"


def user(username: str, *role_names: str, **kw):
    return user_create_with_role(username=username, password=PASSWORD, roles=role_names or (roles.LABELER,), **kw)


def campaign(name: str, *, prompts: list[dict], kinds=("demonstration", "ranking"), k=4, active=True, **kw) -> Campaign:
    c = campaign_create(name=name, task_kinds=list(kinds), completions_per_prompt=k, guidelines=kw.pop("guidelines", GUIDELINES), **kw)
    prompts_create(campaign=c, rows=[prompt_row_from_dict(p, line=i + 1) for i, p in enumerate(prompts)])
    if active:
        c = campaign_activate(campaign=c)
    return c


def login(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=f"Hello, {username}")).to_be_visible()


def letters_to_ids(page: Page) -> dict[str, int]:
    """Output letter (A, B, …: the order this assignment shows them) → completion id."""
    cards = page.locator("article.output-card")
    return {chr(65 + i): int(cards.nth(i).get_attribute("data-output")) for i in range(cards.count())}
