"""Input that used to answer 500 (issue 8): every shape now gets a 4xx JSON answer saying what and where.

The mechanisms under test: ``labeling.services.json_input.validate_free_json`` (free-form JSON
fields), ``labeling.api.parsers.StrictJSONParser`` (every JSON body), the JSON error handlers
(``labeling.api.errors``), strict submission types, and the prompt import's line handling.
"""

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import Campaign, Demonstration, Prompt, Ranking
from labeling.services.campaigns import campaign_create
from labeling.services.errors import ImportRejected
from labeling.services.json_input import validate_free_json
from labeling.services.prompt_import import prompts_import
from labeling.services.queue import assignment_next

API = "/api/v1"


# --- the validator ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, message", [
    ({"tags": ["a", "b", "c", float("nan")]}, "metadata.tags[3]: NaN is not allowed"),
    ({"t": float("inf")}, "metadata.t: Infinity is not allowed"),
    ({"t": json.loads("1e400")}, "metadata.t: Infinity is not allowed"),
    ({"a": {"b": "x\ud800"}}, "metadata.a.b: invalid Unicode"),
    ({"k\ud800": 1}, "metadata: a key: invalid Unicode"),
    ({"a": ["n\x00"]}, "metadata.a[0]: a NUL character"),
    ({"k\x00": 1}, "metadata: a key: a NUL character"),
    ({"deep": [[[[1]]]]}, "metadata.deep[0][0]: nested more than 3 levels deep"),
    ({1: "x"}, "metadata: object keys must be strings"),
    ({"when": object()}, "metadata.when: object is not a JSON value"),
])
def test_validate_free_json_names_the_path(value, message):
    with pytest.raises(ValidationError) as exc:
        validate_free_json(value, where="metadata", max_depth=3)
    assert exc.value.messages[0].startswith(message), exc.value.messages


def test_validate_free_json_size_and_good_values():
    good = {"temperature": 0.7, "stop": ["\n"], "nested": {"ok": [1, 2.5, None, True, "é"]}}
    assert validate_free_json(good, where="generation_settings") is good
    with pytest.raises(ValidationError, match="generation_settings: 1[0-9]{4} bytes of JSON, more than the 10000-byte"):
        validate_free_json({"x": "a" * 10_000}, where="generation_settings", max_bytes=10_000)
    deep = current = []
    for _ in range(50_000):  # far deeper than the recursion limit: the walker is iterative
        current.append([])
        current = current[0]
    with pytest.raises(ValidationError, match="nested more than 20 levels"):
        validate_free_json(deep, where="x")


# --- every JSON body: the parser -------------------------------------------------------------------------

def post_raw(client, url: str, body: str):
    return client.generic("POST", url, body.encode("utf-8", "surrogatepass"), content_type="application/json")


@pytest.mark.django_db
def test_deep_or_malformed_bodies_are_400_even_anonymous(client_for, campaign_admin):
    anon = client_for(None)
    for body in ("[" * 5000, "[" * 40 + "]" * 40, "{bad", '{"username": 1e400}', '{"username": "\\ud800"}',
                 '{"username": ' + "9" * 5000 + "}"):
        r = post_raw(anon, f"{API}/auth/token", body)
        assert r.status_code == 400, (body[:20], r.content[:200])
        assert r["Content-Type"] == "application/json" and r.json()["detail"].startswith("JSON parse error")
    r = post_raw(client_for(campaign_admin), f"{API}/campaigns", "[" * 5000)
    assert r.status_code == 400 and "nested too deeply" in r.json()["detail"]


@pytest.mark.django_db
def test_valid_escapes_and_ordinary_bodies_still_pass(client_for, campaign_admin):
    body = '{"name": "emoji \\ud83d\\ude00 ok", "generation_settings": {"temperature": 0.7, "top_p": 1e-5}}'
    r = post_raw(client_for(campaign_admin), f"{API}/campaigns", body)
    assert r.status_code == 201, r.content
    assert r.json()["name"] == "emoji \U0001F600 ok" and r.json()["generation_settings"]["top_p"] == 1e-5


@pytest.mark.django_db
def test_body_problems_name_their_path(client_for, campaign_admin):
    client = client_for(campaign_admin)
    r = post_raw(client, f"{API}/campaigns", '{"name": "c", "generation_settings": {"top_p": [0.9, 1e400]}}')
    assert r.status_code == 400
    assert r.json() == {"detail": "JSON parse error - generation_settings.top_p[1]: Infinity is not allowed "
                                  "(numbers must be finite, e.g. 1e400 is too large)"}
    r = post_raw(client, f"{API}/campaigns", '{"name": "lone \\udc00 surrogate"}')
    assert r.status_code == 400 and "name: invalid Unicode" in r.json()["detail"]
    assert not Campaign.objects.exists()


@pytest.mark.django_db
def test_free_json_fields_refuse_nul_and_size(client_for, campaign_admin):
    client = client_for(campaign_admin)
    r = client.post(f"{API}/campaigns", {"name": "c", "generation_settings": {"stop\x00": "x"}}, format="json")
    assert r.status_code == 400
    assert r.json() == {"generation_settings": ["generation_settings: a key: a NUL character (\\x00) is not allowed"]}
    r = client.post(f"{API}/campaigns", {"name": "c", "generation_settings": {"s": "x" * 70_000}}, format="json")
    assert r.status_code == 400 and "more than the 64000-byte limit" in r.json()["generation_settings"][0]
    r = client.post(f"{API}/campaigns", {"name": "c", "generation_settings": [1]}, format="json")
    assert r.status_code == 400 and r.json() == {"generation_settings": ["must be a JSON object"]}
    assert not Campaign.objects.exists()
    # The service checks too, for callers that are not the API.
    with pytest.raises(ValidationError, match="generation_settings.t: NaN"):
        campaign_create(name="svc", generation_settings={"t": float("nan")})


@pytest.mark.django_db
def test_submission_notes_and_texts_with_lone_surrogates_are_400(make_campaign, labeler, client_for):
    make_campaign(n=1, k=2)
    a = assignment_next(labeler=labeler)
    ids = a.display_order
    body = json.dumps({"ranking": [[ids[0]], [ids[1]]], "ratings": [{"completion": ids[0], "likert": 5}]})
    body = body.replace('"likert": 5', '"likert": 5, "note": "\\ud800"')
    r = post_raw(client_for(labeler), f"{API}/assignments/{a.pk}/submit", body)
    assert r.status_code == 400 and "ratings[0].note: invalid Unicode" in r.json()["detail"], r.content
    assert not Ranking.objects.exists()


# --- strict submission types -------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("extra, field, message", [
    ({"none_acceptable": "yes"}, "none_acceptable", "must be true or false, not a string"),
    ({"seconds_spent": "5"}, "seconds_spent", "must be a number, not a string"),
    ({"seconds_spent": True}, "seconds_spent", "must be a number, not a boolean"),
])
def test_ranking_submission_types_are_strict(make_campaign, labeler, client_for, extra, field, message):
    make_campaign(n=1, k=2)
    a = assignment_next(labeler=labeler)
    body = {"ranking": [[i] for i in a.display_order], **extra}
    r = client_for(labeler).post(f"{API}/assignments/{a.pk}/submit", body, format="json")
    assert r.status_code == 400 and r.json() == {field: [message]}, r.content
    assert not Ranking.objects.exists()
    r = client_for(labeler).post(f"{API}/assignments/{a.pk}/submit", {**body, field: 5 if "seconds" in field else True},
                                 format="json")
    assert r.status_code == 201, r.content


@pytest.mark.django_db
def test_demonstration_text_must_be_a_string(make_campaign, labeler, client_for):
    make_campaign(n=1, kinds=("demonstration",))
    a = assignment_next(labeler=labeler)
    r = client_for(labeler).post(f"{API}/assignments/{a.pk}/submit", {"text": 5}, format="json")
    assert r.status_code == 400 and r.json() == {"text": ["must be a string, not a number"]}
    assert not Demonstration.objects.exists()


# --- API errors are JSON, always ---------------------------------------------------------------------

@pytest.mark.django_db
def test_body_over_the_size_limit_is_json_413(client_for, campaign_admin, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    r = client_for(campaign_admin).post(f"{API}/campaigns", {"name": "x" * 5000}, format="json")
    assert r.status_code == 413 and r["Content-Type"] == "application/json"
    assert r.json() == {"detail": "the request body is larger than the 1000-byte limit"}


@pytest.mark.django_db
def test_unknown_api_url_and_unexpected_errors_are_json(client_for, campaign_admin, monkeypatch):
    client = client_for(campaign_admin)
    r = client.get(f"{API}/no-such-endpoint")
    assert r.status_code == 404 and r.json() == {"detail": "not found"}

    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("labeling.api.campaigns.campaign_list", broken)
    client.raise_request_exception = False
    r = client.get(f"{API}/campaigns")
    assert r.status_code == 500 and r["Content-Type"] == "application/json"
    assert r.json() == {"detail": "internal server error: the request failed and was logged"}
    assert client.get("/no-such-page/x.js").status_code == 404  # outside /api/: Django's own pages


# --- prompt import -------------------------------------------------------------------------------------

@pytest.fixture
def campaign(db):
    return campaign_create(name="import-hardening", task_kinds=["demonstration"])


def run_import(campaign, content: bytes, name="prompts.jsonl"):
    return prompts_import(campaign=campaign, file=io.BytesIO(content), filename=name)


def import_errors(campaign, content: bytes, name="prompts.jsonl") -> list[dict]:
    with pytest.raises(ImportRejected) as exc:
        run_import(campaign, content, name)
    assert not Prompt.objects.exists()
    return exc.value.errors


def test_import_refuses_unstorable_json_by_line_and_path(campaign):
    lines = [
        '{"prompt": "fine"}',
        '{"prompt": "bad \\ud800 text"}',
        '{"prompt": "p", "metadata": {"tags": ["a", NaN]}}',
        '{"prompt": "p", "author_id": ' + "7" * 5000 + "}",
        '{"prompt": "p", "metadata": ' + "[" * 30 + "]" * 30 + "}",
    ]
    errors = import_errors(campaign, "\n".join(lines).encode())
    assert [e["line"] for e in errors] == [2, 3, 4, 5]
    assert errors[0]["reason"].startswith("prompt: invalid Unicode")
    assert errors[1]["reason"] == "metadata.tags[1]: NaN is not allowed"
    assert errors[2]["reason"].startswith("bad JSON: Exceeds the limit")
    assert "nested more than 20 levels deep" in errors[3]["reason"]


def test_csv_with_cr_only_line_ends_imports_every_row(campaign):
    content = b'prompt,author_id\r"First, with a comma",a1\rSecond,a2\r\rThird,a3\r'
    result = run_import(campaign, content, "prompts.csv")
    assert result.imported == 3
    assert sorted(Prompt.objects.values_list("author_id", flat=True)) == ["a1", "a2", "a3"]
    assert Prompt.objects.get(author_id="a1").messages[0]["content"] == "First, with a comma"


def test_jsonl_with_cr_only_and_mixed_line_ends(campaign):
    content = b'{"prompt": "one"}\r{"prompt": "two"}\r\n{"prompt": "three"}\n{"prompt": "four"}'
    assert run_import(campaign, content).imported == 4


def test_csv_long_author_id_and_undecodable_surrogate_bytes_are_line_errors(campaign):
    errors = import_errors(campaign, b"prompt,author_id\nok," + b"9" * 5000 + b"\nbad \xed\xa0\x80,a\n", "prompts.csv")
    assert [(e["line"], e["reason"]) for e in errors] == [
        (2, "author_id is longer than 200 characters"), (3, "not valid UTF-8 (byte 5)")]


def test_duplicates_ignore_zero_width_and_compatibility_forms(campaign):
    content = "\n".join(json.dumps({"prompt": p}) for p in ["dupzw", "dup\u200bzw", "ﬁle", "file", "dup\u2060zw\ufeff"])
    result = run_import(campaign, content.encode())
    assert result.imported == 2 and result.duplicates_count == 3
    assert [d["line"] for d in result.duplicates] == [2, 4, 5]


def test_duplicate_report_is_capped_with_a_count(campaign, campaign_admin, client_for):
    content = "\n".join([json.dumps({"prompt": "same"})] * 450).encode()
    r = client_for(campaign_admin).post(f"{API}/campaigns/{campaign.pk}/prompts/import",
                                        {"file": SimpleUploadedFile("p.jsonl", content)}, format="multipart")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["imported"] == 1 and body["duplicates_count"] == 449 and len(body["duplicates"]) == 200
    assert body["duplicates"][0] == {"line": 2, "reason": "duplicate of line 1 in this file"}
