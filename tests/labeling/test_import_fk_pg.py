"""The import's write on PostgreSQL proves its own references and, where the role may, skips the per-row
foreign-key triggers for its own statements only: the rest of the transaction is checked as ever, a role
without the privilege imports the same rows with the triggers, and a table's own trigger still fires."""

import io
import json
import uuid

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from labeling.models import Completion, Prompt, Task
from labeling.services import prompt_bulk
from labeling.services.campaigns import campaign_create
from labeling.services.prompt_import import prompts_import

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgres,
    pytest.mark.skipif("postgresql" not in settings.DATABASES["default"]["ENGINE"],
                       reason="session_replication_role and roles are PostgreSQL's: set DATABASE_URL=postgres://…"),
]


def jsonl(n: int, k: int = 3) -> io.BytesIO:
    rows = [{"prompt": f"Question {i}: why is the sky blue?", "author_id": f"a{i % 3}",
             "completions": [f"answer {j} to {i}" for j in range(k)]} for i in range(n)]
    return io.BytesIO("".join(json.dumps(r) + "\n" for r in rows).encode())


@pytest.fixture
def campaign():
    return campaign_create(name="fk-target", task_kinds=["demonstration", "ranking"])


def replication_role() -> str:
    with connection.cursor() as cur:
        cur.execute("SHOW session_replication_role")
        return cur.fetchone()[0]


def imported_rows(campaign) -> tuple[int, int, int, int]:
    links = Task.completions.through.objects.filter(task__campaign=campaign).count()
    return (Prompt.objects.filter(campaign=campaign).count(), Task.objects.filter(campaign=campaign).count(),
            Completion.objects.filter(prompt__campaign=campaign).count(), links)


def role_may_set_the_parameter() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
        return cur.fetchone()[0]


def test_foreign_keys_are_checked_again_after_the_import_in_the_same_transaction(campaign, monkeypatch):
    decided = []
    real = prompt_bulk._may_skip_fk_triggers
    monkeypatch.setattr(prompt_bulk, "_may_skip_fk_triggers", lambda cur: decided.append(real(cur)) or decided[-1])
    result = prompts_import(campaign=campaign, file=jsonl(50), filename="p.jsonl")
    assert decided == [role_may_set_the_parameter()]
    assert (result.imported, result.tasks_created) == (50, 100)
    assert imported_rows(campaign) == (50, 100, 150, 150)
    assert replication_role() == "origin"
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("INSERT INTO labeling_completion (created_at, updated_at, prompt_id, text, generation_settings) "
                    "VALUES (now(), now(), -1, 'orphan', '{}')")
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_failed_write_rolls_back_everything_and_the_setting(campaign, monkeypatch):
    real = prompt_bulk.PromptStage._check_count

    def miscount(self, what, written, expected):
        real(self, what, written, expected + (what == "completions"))

    monkeypatch.setattr(prompt_bulk.PromptStage, "_check_count", miscount)
    with pytest.raises(RuntimeError, match="wrote 30 completions, expected 31"):
        prompts_import(campaign=campaign, file=jsonl(10), filename="p.jsonl")
    assert imported_rows(campaign) == (0, 0, 0, 0)
    assert replication_role() == "origin"


def test_a_role_that_may_not_set_the_parameter_imports_the_same_rows_with_the_triggers(campaign):
    role = f"prefloop_limited_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} NOLOGIN")  # rolled back with the test's transaction
        cur.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        cur.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
        cur.execute(f"SET LOCAL ROLE {role}")
        assert not prompt_bulk._may_skip_fk_triggers(cur)
    result = prompts_import(campaign=campaign, file=jsonl(40), filename="p.jsonl")
    assert (result.imported, result.tasks_created) == (40, 80)
    assert imported_rows(campaign) == (40, 80, 120, 120)


def test_a_trigger_of_our_own_on_a_written_table_still_fires(campaign):
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE prompt_audit (prompt_id bigint)")
        cur.execute("CREATE FUNCTION prefloop_test_audit_prompt() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN INSERT INTO prompt_audit VALUES (NEW.id); RETURN NEW; END $$")
        cur.execute("CREATE TRIGGER prompt_audit AFTER INSERT ON labeling_prompt "
                    "FOR EACH ROW EXECUTE FUNCTION prefloop_test_audit_prompt()")
        assert not prompt_bulk._may_skip_fk_triggers(cur)
    prompts_import(campaign=campaign, file=jsonl(25), filename="p.jsonl")
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM prompt_audit")
        assert cur.fetchone()[0] == 25


def test_the_setting_turns_the_fast_path_off(settings):
    settings.PROMPT_IMPORT_SKIP_FK_TRIGGERS = False
    with connection.cursor() as cur:
        assert not prompt_bulk._may_skip_fk_triggers(cur)
    settings.PROMPT_IMPORT_SKIP_FK_TRIGGERS = True
    with connection.cursor() as cur:
        assert prompt_bulk._may_skip_fk_triggers(cur) == role_may_set_the_parameter()
