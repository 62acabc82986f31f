"""A labeler in a real browser: log in, write a demonstration, rate + rank with the keyboard only,
drafts surviving a reload, a failed submit kept for a retry, and untrusted text shown as text."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from labeling.models import Assignment, Demonstration, Ranking, Rating
import browser_support as seed
from browser_support import letters_to_ids, login

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]

PROMPT = "Explain what a hash map is.\nKeep it short:\n    two sentences at most."
OUTPUTS = [
    "A hash map stores key/value pairs in buckets picked by hashing the key.",
    "It is a map.",
    "A hash map maps keys to values using a hash function, giving O(1) average lookups.\n```python\nd = {'a': 1}\n```",
    "A dictionary-like structure; keys are hashed to find their slot quickly.",
]


@pytest.fixture
def labeler_setup(roles_exist):
    labeler = seed.user("lena")
    campaign = seed.campaign(
        "Helpful answers",
        prompts=[
            {
                "messages": [  # multi-turn: shown as a conversation
                    {"role": "user", "content": "What is a set?"},
                    {"role": "assistant", "content": "A collection of unique items."},
                    {"role": "user", "content": PROMPT},
                ],
                "category": "open_qa",
                "completions": OUTPUTS,
            }
        ],
    )
    return labeler, campaign


def test_labeler_demonstration_then_keyboard_ranking(page: Page, shot, labeler_setup):
    labeler, campaign = labeler_setup
    page.goto("/login")
    shot(page, "01-login")
    login(page, "lena")
    home = page.get_by_role("row", name=re.compile("Helpful answers"))
    expect(home).to_contain_text("2")  # a demonstration task and a ranking task for the one prompt
    shot(page, "02-home")

    # --- Demonstration: typed, restored after a reload, submitted with Ctrl+Enter. ---
    page.get_by_role("link", name="Start labeling Helpful answers").click()
    expect(page.get_by_role("heading", name="Write a demonstration")).to_be_visible()
    conversation = page.get_by_role("list", name="Prompt")
    expect(conversation.get_by_role("listitem")).to_have_count(3)
    expect(conversation.get_by_role("listitem").nth(1)).to_contain_text("Assistant")
    last_turn = conversation.get_by_role("listitem").nth(2).locator(".pre-wrap")
    assert last_turn.text_content() == PROMPT  # every space and newline kept…
    assert last_turn.evaluate("el => getComputedStyle(el).whiteSpace") == "pre-wrap"  # …and shown
    expect(page.get_by_role("heading", name="Guidelines")).to_be_visible()
    box = page.get_by_label("Your response, written as the assistant")
    answer = "A hash map stores values under keys.\n\n    Lookups hash the key to find its bucket."
    box.focus()
    page.keyboard.type(answer)
    expect(page.get_by_text(f"{len(answer)} characters")).to_be_visible()
    shot(page, "03-demonstration")

    url = page.url
    page.reload()
    expect(page).to_have_url(url)
    expect(page.get_by_text("Restored your unsent draft")).to_be_visible()
    expect(page.get_by_label("Your response, written as the assistant")).to_have_value(answer)

    page.get_by_label("Your response, written as the assistant").focus()
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("heading", name="Rate and rank the outputs")).to_be_visible()
    demo = Demonstration.objects.get(assignment__labeler=labeler)
    assert demo.text == answer
    assert demo.assignment.status == Assignment.Status.SUBMITTED

    # --- Ranking, keyboard only: ratings with j + digits, a flag and a note, then the board. ---
    ids = letters_to_ids(page)
    assert len(ids) == 4 and sorted(ids.values()) == sorted(
        c.id for c in demo.assignment.task.prompt.completions.all()
    )
    submit = page.get_by_role("button", name="Submit ranking")
    expect(submit).to_be_disabled()
    expect(page.locator("#submit-missing")).to_contain_text("Rate outputs A, B, C and D (1–7).")
    expect(page.locator("#submit-missing")).to_contain_text("Place outputs A, B, C and D on the ranking board.")

    shot(page, "04a-ranking-start")
    page.keyboard.press("?")  # the shortcuts overlay
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Tie with the group above")
    shot(page, "09-shortcuts-help")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    flags = page.locator("article.output-card").first.get_by_role("checkbox").count()
    assert flags >= 1
    first_flag = page.evaluate(
        "async (id) => (await (await fetch(`/api/v1/assignments/${id}`)).json()).task.flags[0]",
        int(page.url.rsplit("/", 1)[1]),
    )
    page.locator("body").focus()
    page.keyboard.press("j")  # focus output A
    page.keyboard.press("5")
    page.keyboard.press("Tab")  # into A's Likert group
    page.keyboard.press("Tab")  # A's first flag
    page.keyboard.press("Space")
    page.keyboard.press("j")  # output B
    page.keyboard.press("2")
    for _ in range(2 + flags):  # card → Likert → each flag → the note
        page.keyboard.press("Tab")
    page.keyboard.type("Too terse to help.")
    page.keyboard.press("Escape")  # leave the note (digits there are text): focus goes back to card B
    page.keyboard.press("j")  # output C
    page.keyboard.press("7")
    page.keyboard.press("j")  # output D
    page.keyboard.press("5")
    expect(page.locator("#submit-missing")).not_to_contain_text("Rate outputs")

    # Board: C best, A and D tied, B last.
    page.keyboard.press("b")  # focus the board: output A (all unranked, server order)
    status = page.locator(".board-status")
    page.keyboard.press("Enter")  # A → rank 1
    expect(status).to_contain_text("Output A: rank 1 of 1")
    page.keyboard.press("ArrowDown")  # B
    page.keyboard.press("ArrowDown")  # C
    page.keyboard.press("Shift+ArrowUp")  # C → new last rank
    page.keyboard.press("Shift+ArrowUp")  # C → above A
    expect(status).to_contain_text("Output C: rank 1 of 2")
    page.keyboard.press("End")  # D (last in the pool)
    page.keyboard.press("t")  # tie with the group above: A
    expect(status).to_contain_text("Output D: rank 2 of 2, tied with A")
    page.keyboard.press("s")  # split the tie…
    expect(status).to_contain_text("Output D: rank 3 of 3")
    page.keyboard.press("Alt+ArrowUp")  # …and join it again
    expect(status).to_contain_text("Output D: rank 2 of 2, tied with A")
    page.keyboard.press("ArrowDown")  # B
    page.keyboard.press("Enter")  # B → last rank
    expect(status).to_contain_text("Output B: rank 3 of 3")
    expect(page.locator("#submit-missing")).to_contain_text("Ready to submit.")
    expect(submit).to_be_enabled()
    expect(page.locator(".timer")).to_have_text(re.compile(r"\d\d:\d\d"))
    shot(page, "04-ranking")
    shot(page, "04b-ranking-full", full_page=True)

    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("heading", name="Nothing left for you here")).to_be_visible()
    expect(page.get_by_text("Ranking submitted.")).to_be_visible()

    ranking = Ranking.objects.get(assignment__labeler=labeler)
    A, B, C, D = ids["A"], ids["B"], ids["C"], ids["D"]
    assert [sorted(g) for g in ranking.groups] == [[C], sorted([A, D]), [B]]
    assert ranking.none_acceptable is False
    ratings = {r.completion_id: r for r in Rating.objects.filter(assignment=ranking.assignment)}
    assert {cid: r.likert for cid, r in ratings.items()} == {A: 5, B: 2, C: 7, D: 5}
    assert ratings[A].flags == [first_flag]
    assert ratings[B].flags == ratings[C].flags == ratings[D].flags == []
    assert ratings[B].note == "Too terse to help."
    assert ranking.assignment.status == Assignment.Status.SUBMITTED
    assert ranking.assignment.seconds_spent is not None
    page.watch.assert_clean()


def test_reload_restores_ranking_draft_and_failed_submit_offers_retry(page: Page, labeler_setup):
    labeler, _ = labeler_setup
    login(page, "lena")
    # Only the ranking task for this test: take (and skip) the demonstration first, through the UI.
    page.get_by_role("link", name="Start labeling Helpful answers").click()
    expect(page.get_by_role("heading", name="Write a demonstration")).to_be_visible()
    page.get_by_role("button", name="Skip…").click()
    page.get_by_role("radio", name="It needs expertise I don’t have").check()
    page.get_by_role("button", name="Skip task").click()
    expect(page.get_by_role("heading", name="Rate and rank the outputs")).to_be_visible()
    assert Assignment.objects.get(labeler=labeler, task__kind="demonstration").status == Assignment.Status.SKIPPED

    ids = letters_to_ids(page)
    cards = page.locator("article.output-card")
    for i, score in enumerate([3, 6, 1, 4]):
        cards.nth(i).focus()
        page.keyboard.press(str(score))
    cards.nth(2).get_by_label("Note on output C (optional)").fill("Wrong: it is not a list.")
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    ranks = page.locator(".ranks .bucket")
    for placed in range(1, 5):  # A, B, C, D each placed as the next rank, in that order
        expect(page.locator(f'.board [data-chip="{ids["ABCD"[placed - 1]]}"]')).to_be_focused()
        page.keyboard.press("Enter")
        expect(ranks).to_have_count(placed)  # the key was handled: wait for the state, not for time
        page.keyboard.press("ArrowDown")
    page.get_by_label("None of these outputs is acceptable").check()
    expect(page.locator("#submit-missing")).to_contain_text("Ready to submit.")

    # What the reload must bring back is in the draft now (the reload itself is what is under test).
    page.wait_for_function(
        """() => Object.entries(localStorage).some(([k, v]) => k.startsWith('prefloop:draft:')
               && JSON.parse(v).body.buckets.length === 4 && JSON.parse(v).body.noneAcceptable)"""
    )
    page.reload()
    expect(page.get_by_text("Restored your unsent work")).to_be_visible()
    cards = page.locator("article.output-card")
    for i, score in enumerate([3, 6, 1, 4]):
        expect(cards.nth(i).get_by_role("radio", name=str(score))).to_be_checked()
    expect(cards.nth(2).get_by_label("Note on output C (optional)")).to_have_value("Wrong: it is not a list.")
    expect(page.get_by_label("None of these outputs is acceptable")).to_be_checked()
    expect(page.locator(".ranks .bucket")).to_have_count(4)
    expect(page.locator("#submit-missing")).to_contain_text("Ready to submit.")

    # The server fails once (503): the work stays, a Retry is offered, and the retry lands.
    calls = {"n": 0}

    def flaky(route):
        calls["n"] += 1
        if calls["n"] == 1:
            route.fulfill(status=503, content_type="application/json", body='{"detail": "maintenance"}')
        else:
            route.continue_()

    page.route("**/api/v1/assignments/*/submit", flaky)
    page.get_by_role("button", name="Submit ranking").click()
    alert = page.locator(".submit-status .error-box")
    expect(alert).to_contain_text("Not submitted.")
    expect(alert).to_contain_text("Your work is saved on this device.")
    assert not Ranking.objects.filter(assignment__labeler=labeler).exists()
    draft_keys = page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('prefloop:draft:'))")
    assert len(draft_keys) == 1

    alert.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("heading", name="Nothing left for you here")).to_be_visible()
    ranking = Ranking.objects.get(assignment__labeler=labeler)
    assert ranking.groups == [[ids["A"]], [ids["B"]], [ids["C"]], [ids["D"]]]
    assert ranking.none_acceptable is True
    assert Rating.objects.get(assignment=ranking.assignment, completion_id=ids["C"]).note == "Wrong: it is not a list."
    assert page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('prefloop:draft:')).length") == 0
    # The one 503 we injected is the only console error allowed.
    page.watch.allow_http_error(503, "/submit")
    page.watch.assert_clean()


def test_untrusted_prompt_and_outputs_are_shown_as_text(page: Page, roles_exist):
    seed.user("mallory-target")
    payload = seed.XSS
    seed.campaign(
        "Hostile text",
        kinds=("ranking",),
        guidelines=f"Guidelines with hostile bits: {payload}",
        prompts=[
            {
                "prompt": f"Prompt says {payload}",
                "completions": [f"Output one {payload}", "Output two <b>bold?</b>", "Output three", f"![img](x) {payload}"],
            }
        ],
    )
    login(page, "mallory-target")
    page.get_by_role("link", name="Start labeling Hostile text").click()
    expect(page.get_by_role("heading", name="Rate and rank the outputs")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^Show")).first.click()  # open the guidelines panel

    expect(page.get_by_role("list", name="Prompt")).to_contain_text(f"Prompt says {payload}")
    cards = page.locator("article.output-card")  # shown in this assignment's shuffled order
    expect(cards.filter(has_text="Output one")).to_contain_text(f"Output one {payload}")
    expect(cards.filter(has_text="Output two")).to_contain_text("Output two <b>bold?</b>")
    expect(cards.filter(has_text="![img](x)")).to_contain_text(f"![img](x) {payload}")
    expect(page.locator(".guidelines")).to_contain_text("<script>alert(1)</script>")
    expect(page.locator(".guidelines")).to_contain_text("<img src=x onerror=alert(1)>")
    page.wait_for_timeout(500)  # give any injected handler the chance to fire

    assert page.locator("main script").count() == 0
    assert page.locator("main img").count() == 0
    assert page.locator("main b").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.evaluate("() => window.__pwned === undefined")
    # The markdown link in the guidelines was neutralised (no href); clicking it does nothing.
    link_text = page.locator(".guidelines").get_by_text("x", exact=True)
    if link_text.count():
        link_text.first.click()
    page.wait_for_timeout(200)
    page.watch.assert_clean()


def _drag(page: Page, source, target) -> None:
    """A real pointer drag (dnd-kit's PointerSensor needs a few intermediate moves)."""
    s = source.bounding_box()
    t = target.bounding_box()
    page.mouse.move(s["x"] + s["width"] / 2, s["y"] + s["height"] / 2)
    page.mouse.down()
    page.mouse.move(s["x"] + s["width"] / 2 + 10, s["y"] + s["height"] / 2 + 10, steps=5)
    page.mouse.move(t["x"] + t["width"] / 2, t["y"] + t["height"] / 2, steps=15)
    page.mouse.up()
    page.wait_for_timeout(150)  # a person never starts the next drag within a frame or two of a drop


def test_mouse_drag_and_drop_ranks_and_ties(page: Page, roles_exist):
    seed.user("dora")
    seed.campaign("Drag me", kinds=("ranking",), k=3, prompts=[{"prompt": "Pick one", "completions": ["one", "two", "three"]}])
    login(page, "dora")
    page.get_by_role("link", name="Start labeling Drag me").click()
    expect(page.get_by_role("heading", name="Rate and rank the outputs")).to_be_visible()
    chip = lambda letter: page.locator(".board .chip", has=page.locator(".chip-letter", has_text=letter))  # noqa: E731

    _drag(page, chip("B"), page.locator(".gap.empty"))  # B becomes rank 1
    expect(page.locator(".ranks .bucket")).to_have_count(1)
    _drag(page, chip("C"), page.locator(".ranks .bucket").first)  # C ties with B
    expect(page.locator(".ranks .bucket").first).to_have_class(re.compile(r"\btied\b"))
    _drag(page, chip("A"), page.locator(".ranks .gap").first)  # A gets a new rank above the tie
    expect(page.locator(".ranks .bucket")).to_have_count(2)
    expect(page.locator(".board-status")).to_contain_text("Output A: rank 1 of 2")
    expect(page.locator(".ranks .bucket").nth(1)).to_contain_text("B")
    expect(page.locator(".ranks .bucket").nth(1)).to_contain_text("C")
    page.watch.assert_clean()


def test_labeler_chooses_rankings_and_gets_a_ranking_task(page: Page, shot, labeler_setup):
    labeler, _ = labeler_setup
    login(page, "lena")
    page.get_by_role("radio", name="Rankings").check()  # with "Any task" the demonstration (older) comes first
    shot(page, "02b-home-kind-chooser")
    page.get_by_role("link", name="Start labeling", exact=True).click()
    expect(page.get_by_role("heading", name="Rate and rank the outputs")).to_be_visible()
    assert Assignment.objects.get(labeler=labeler).task.kind == "ranking"

    # The choice is remembered; asking for demonstrations while holding this ranking returns it, and says so.
    page.goto("/")
    expect(page.get_by_role("radio", name="Rankings")).to_be_checked()
    page.get_by_role("radio", name="Demonstrations").check()
    page.get_by_role("link", name="Start labeling", exact=True).click()
    expect(page.get_by_text("You still hold this ranking task: submit or skip it to get demonstrations.")).to_be_visible()
    expect(page.get_by_role("heading", name="Rate and rank the outputs")).to_be_visible()
    assert Assignment.objects.filter(labeler=labeler).count() == 1
    page.watch.assert_clean()


def _overlaps(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and \
        a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


def test_at_phone_width_the_ranking_board_does_not_cover_the_outputs(page: Page, shot, roles_exist):
    seed.user("pia")
    seed.campaign("Phone", kinds=("ranking",), prompts=[{"prompt": "Say hi", "completions": OUTPUTS}])
    page.set_viewport_size({"width": 375, "height": 800})
    login(page, "pia")
    page.get_by_role("link", name="Start labeling Phone").click()
    expect(page.get_by_role("heading", name="Rate and rank the outputs")).to_be_visible()
    board, cards = page.locator("section.board"), page.locator("article.output-card")
    expect(cards).to_have_count(4)
    # Boxes are viewport-relative, so compare them at each scroll position a labeler goes through.
    for i in range(4):
        cards.nth(i).scroll_into_view_if_needed()
        board_box = board.bounding_box()
        for j in range(4):
            card_box = cards.nth(j).bounding_box()
            assert not _overlaps(board_box, card_box), f"board {board_box} covers output {j} {card_box}"
            assert card_box["width"] > 250, f"output {j} is squeezed to {card_box['width']} px"
    board.scroll_into_view_if_needed()
    assert not any(_overlaps(board.bounding_box(), cards.nth(j).bounding_box()) for j in range(4))
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing sticks out sideways
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "10-ranking-phone-375", full_page=True)
    page.watch.assert_clean()
