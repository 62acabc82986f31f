"""NUL characters: PostgreSQL cannot store ``\\x00`` in text or jsonb, so every way user text reaches the
database refuses it with a clear message instead of a 500 (prompt import: tests/labeling/test_import.py)."""

import pytest
from django.core.exceptions import ValidationError

from factories import ModelVersionFactory
from labeling.models import Completion, Demonstration, Prompt, Rating
from labeling.services.campaigns import campaign_create
from labeling.services.prompts import completions_create, prompt_row_from_dict, prompts_create
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit
from labeling.services.task_creation import ranking_tasks_create_from_outputs
from labeling.services.validation import clean_demonstration, has_nul

pytestmark = pytest.mark.django_db
API = "/api/v1"


def test_has_nul_looks_everywhere():
    assert not has_nul({"a": ["b", 1, None, {"c": "d"}]})
    assert has_nul("x\x00") and has_nul(["ok", ["no\x00"]]) and has_nul({"k\x00": 1}) and has_nul({"k": {"j": "\x00"}})


@pytest.fixture
def prompt():
    campaign = campaign_create(name="nul", task_kinds=["ranking"])
    prompts_create(campaign=campaign, rows=[prompt_row_from_dict({"prompt": "Say hi."})])
    return Prompt.objects.get()


def test_completions_create_refuses_nul(prompt):
    with pytest.raises(ValidationError) as exc:
        completions_create(prompt=prompt, texts=["hi", "he\x00llo"])
    assert exc.value.message_dict == {"texts": ["completion 2 contains a NUL character (\\x00), which cannot be stored: remove it"]}
    assert not Completion.objects.exists()


def test_ranking_tasks_from_outputs_refuse_nul(prompt):
    with pytest.raises(ValidationError, match="NUL character"):
        ranking_tasks_create_from_outputs(campaign=prompt.campaign, outputs={prompt.pk: ["a", "b\x00"]},
                                          model_version=ModelVersionFactory(kind="policy"))
    assert not Completion.objects.exists()


def test_prompt_row_refuses_nul():
    with pytest.raises(ValueError, match="contains a NUL character"):
        prompt_row_from_dict({"prompt": "fine", "source_id": "s\x00"})


def test_demonstration_text_with_nul_is_refused(make_campaign, labeler):
    with pytest.raises(ValidationError) as exc:
        clean_demonstration({"text": "an answer\x00"})
    assert exc.value.message_dict == {"text": ["the text contains a NUL character (\\x00), which cannot be stored: remove it"]}
    make_campaign(n=1, kinds=("demonstration",))
    a = assignment_next(labeler=labeler)
    with pytest.raises(ValidationError, match="NUL"):
        assignment_submit(assignment_id=a.pk, labeler=labeler, data={"text": "an answer\x00"})
    assert not Demonstration.objects.exists()
    assert assignment_submit(assignment_id=a.pk, labeler=labeler, data={"text": "an answer"}).created


def test_rating_note_with_nul_is_400_over_http(make_campaign, labeler, client_for):
    make_campaign(n=1, k=2)
    a = assignment_next(labeler=labeler)
    ids = a.display_order
    body = {"ranking": [[ids[0]], [ids[1]]], "ratings": [{"completion": ids[0], "likert": 5, "note": "n\x00te"}]}
    r = client_for(labeler).post(f"{API}/assignments/{a.pk}/submit", body, format="json")
    assert r.status_code == 400, r.content
    assert r.json() == {"ratings": [f"rating of completion {ids[0]}: the note contains a NUL character (\\x00), "
                                    "which cannot be stored: remove it"]}
    assert not Rating.objects.exists()
    # A demonstration's text: the API's CharField already refuses it, before the service sees it.
    demo = make_campaign(n=1, kinds=("demonstration",))
    a = assignment_next(labeler=labeler, campaign_id=demo.pk)
    r = client_for(labeler).post(f"{API}/assignments/{a.pk}/submit", {"text": "x\x00"}, format="json")
    assert r.status_code == 400 and "text" in r.json(), r.content
    assert not Demonstration.objects.exists()
