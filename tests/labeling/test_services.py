"""Services the seed scripts and the training loop call directly: users, task creation, prompts."""

import pytest
from django.core.exceptions import ValidationError

from factories import ModelVersionFactory
from labeling import roles
from labeling.models import Completion, Prompt, Task
from labeling.selectors.users import user_roles
from labeling.services.campaigns import campaign_create
from labeling.services.prompts import completions_create, prompt_content_hash, prompt_row_from_dict, prompts_create
from labeling.services.queue import assignment_next
from labeling.services.task_creation import ranking_tasks_create_from_outputs, task_create_ranking
from labeling.services.users import user_create_with_role, user_set_roles

pytestmark = pytest.mark.django_db


def test_user_create_with_role():
    user = user_create_with_role(username="ann", password="pw", roles=[roles.LABELER, roles.RESEARCHER])
    assert user.check_password("pw") and user_roles(user) == [roles.LABELER, roles.RESEARCHER]
    token_only = user_create_with_role(username="bot", roles=[roles.LABELER])
    assert not token_only.has_usable_password()
    with pytest.raises(ValidationError):
        user_create_with_role(username="ann", roles=[roles.LABELER])
    with pytest.raises(ValidationError):
        user_create_with_role(username="bob", roles=["wizard"])
    user_set_roles(user=user, roles=[roles.CAMPAIGN_ADMIN])
    assert user_roles(user) == [roles.CAMPAIGN_ADMIN]


def test_task_create_ranking_for_new_policy_outputs(labeler):
    campaign = campaign_create(name="c", task_kinds=["ranking"])
    prompts_create(campaign=campaign, rows=[prompt_row_from_dict({"prompt": "Say hi."})])
    prompt = Prompt.objects.get()
    policy = ModelVersionFactory(kind="policy")
    outputs = completions_create(prompt=prompt, texts=["hi", "hello", "hey"], model_version=policy)
    task = task_create_ranking(prompt=prompt, completions=outputs)
    assert task.kind == Task.Kind.RANKING and set(task.completions.all()) == set(outputs)
    assert task.required_labels == campaign.labels_per_task
    with pytest.raises(ValidationError):
        task_create_ranking(prompt=prompt, completions=outputs[:1])
    other = campaign_create(name="other", task_kinds=["demonstration"])
    prompts_create(campaign=other, rows=[prompt_row_from_dict({"prompt": "Other."})])
    other_prompt = Prompt.objects.get(campaign=other)
    with pytest.raises(ValidationError) as exc:
        task_create_ranking(prompt=other_prompt, completions=outputs)
    assert "does not do ranking" in str(exc.value) and "belong to the prompt" in str(exc.value)


def test_ranking_tasks_create_from_outputs_in_bulk(labeler):
    campaign = campaign_create(name="loop", task_kinds=["ranking"])
    prompts_create(campaign=campaign, rows=[prompt_row_from_dict({"prompt": f"P{i}"}) for i in range(3)])
    ids = list(Prompt.objects.values_list("id", flat=True))
    policy = ModelVersionFactory(kind="policy")
    tasks = ranking_tasks_create_from_outputs(
        campaign=campaign, outputs={pid: [f"a{pid}", f"b{pid}"] for pid in ids}, model_version=policy,
        generation_settings={"temperature": 0.7},
    )
    assert len(tasks) == 3 and Completion.objects.filter(model_version=policy).count() == 6
    assert Completion.objects.filter(generation_settings={"temperature": 0.7}).count() == 6
    with pytest.raises(ValidationError):
        ranking_tasks_create_from_outputs(campaign=campaign, outputs={ids[0]: ["only one"]})
    from labeling.services.campaigns import campaign_activate

    campaign_activate(campaign=campaign)
    assert len(assignment_next(labeler=labeler).display_order) == 2


def test_content_hash_normalizes_whitespace_and_unicode_but_not_case():
    base = [{"role": "user", "content": "Café  au lait\n"}]
    assert prompt_content_hash(base) == prompt_content_hash([{"role": "user", "content": "Cafe\u0301 au lait"}])
    assert prompt_content_hash(base) != prompt_content_hash([{"role": "user", "content": "café au lait"}])
    assert prompt_content_hash(base) != prompt_content_hash([{"role": "system", "content": "Café au lait"}])


@pytest.mark.django_db
def test_an_edit_made_from_a_stale_copy_does_not_undo_an_archive(make_campaign):
    from labeling.models import Campaign
    from labeling.services.campaigns import campaign_archive, campaign_update
    from labeling.services.errors import Conflict

    campaign = make_campaign()
    stale = Campaign.objects.get(pk=campaign.pk)  # loaded by a request that started before the archive
    campaign_archive(campaign=Campaign.objects.get(pk=campaign.pk))
    with pytest.raises(Conflict):
        campaign_update(campaign=stale, data={"guidelines": "new text"})
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.ARCHIVED
