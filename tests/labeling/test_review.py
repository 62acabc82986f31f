"""Review of labels: decisions are kept, a rejection re-opens the task slot for someone else and
drops the label from the figures; on PostgreSQL, racing rejections and leases keep the counters exact."""
import threading

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from factories import make_user
from labeling.models import Assignment, LabelReview, Task
from labeling.selectors.label_records import label_records
from labeling.services.errors import Conflict
from labeling.services.queue import assignment_next
from labeling.services.review import label_review_create
from labeling.services.submissions import assignment_submit


def _label(user, campaign):
    a = assignment_next(labeler=user, campaign_id=campaign.pk)
    ids = a.display_order
    assignment_submit(assignment_id=a.pk, labeler=user, data={"ranking": [[c] for c in ids]})
    return a


@pytest.fixture
def labelled(make_campaign, make_user):
    """One ranking task, overlap 2, fully labelled (done)."""
    campaign = make_campaign(n=1, k=3, overlap=2)
    first, second = make_user("labeler"), make_user("labeler")
    return campaign, first, _label(first, campaign), _label(second, campaign)


@pytest.mark.django_db
def test_reject_reopens_the_slot_for_someone_else_and_drops_the_label(labelled, campaign_admin, make_user):
    campaign, first, rejected, kept = labelled
    task = Task.objects.get(campaign=campaign)
    assert (task.status, task.submitted_count) == ("done", 2)

    review = label_review_create(assignment_id=rejected.pk, reviewer=campaign_admin, decision="reject",
                                 reason="ranked in display order", signal="position_bias")
    task.refresh_from_db()
    assert (task.status, task.submitted_count, task.active_leases) == ("open", 1, 0)
    assert (review.reviewer, review.signal) == (campaign_admin, "position_bias")
    assert Assignment.objects.get(pk=rejected.pk).status == "submitted"  # the labeler's work is kept
    assert [r.assignment_id for r in label_records(campaign_ids=[campaign.pk])] == [kept.pk]
    assert len(label_records(campaign_ids=[campaign.pk], include_rejected=True)) == 2

    assert assignment_next(labeler=first, campaign_id=campaign.pk) is None  # never the same labeler again
    newcomer = make_user("labeler")
    _label(newcomer, campaign)
    task.refresh_from_db()
    assert (task.status, task.submitted_count) == ("done", 2)


@pytest.mark.django_db
def test_decisions_are_validated_and_kept(labelled, campaign_admin):
    _, _, first, second = labelled
    with pytest.raises(ValidationError) as err:
        label_review_create(assignment_id=first.pk, reviewer=campaign_admin, decision="reject", reason="  ")
    assert "reason" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        label_review_create(assignment_id=first.pk, reviewer=campaign_admin, decision="maybe", signal="vibes")
    assert set(err.value.message_dict) == {"decision", "signal"}

    label_review_create(assignment_id=first.pk, reviewer=campaign_admin, decision="accept")
    label_review_create(assignment_id=first.pk, reviewer=campaign_admin, decision="reject", reason="second look")
    with pytest.raises(Conflict, match="already rejected"):
        label_review_create(assignment_id=first.pk, reviewer=campaign_admin, decision="accept")
    history = list(LabelReview.objects.filter(assignment=first).order_by("id").values_list("decision", "reason"))
    assert history == [("accept", ""), ("reject", "second look")]
    assert Task.objects.get(pk=first.task_id).submitted_count == 1  # re-opened once, not per decision


@pytest.mark.django_db
def test_only_submitted_labels_are_reviewed(make_campaign, labeler, campaign_admin):
    campaign = make_campaign(n=1, k=3)
    lease = assignment_next(labeler=labeler, campaign_id=campaign.pk)
    with pytest.raises(Conflict, match="only submitted labels"):
        label_review_create(assignment_id=lease.pk, reviewer=campaign_admin, decision="reject", reason="x")
    with pytest.raises(Assignment.DoesNotExist):
        label_review_create(assignment_id=10**9, reviewer=campaign_admin, decision="accept")


@pytest.mark.postgres
@pytest.mark.skipif("postgresql" not in settings.DATABASES["default"]["ENGINE"], reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_racing_rejections_and_leases_keep_the_counters_exact(make_campaign, make_user):
    """Two admins reject the same label while six labelers ask for work at once: the label's slot
    re-opens once, exactly one newcomer gets it, and the task never holds more than its overlap."""
    campaign = make_campaign(n=1, k=3, overlap=2)
    target = _label(make_user("labeler"), campaign)
    _label(make_user("labeler"), campaign)
    admins = [make_user("campaign_admin") for _ in range(2)]
    newcomers = [make_user("labeler") for _ in range(6)]
    start = threading.Barrier(len(admins) + len(newcomers))
    outcomes, errors = {"rejected": 0, "conflict": 0, "leased": []}, []

    def reject(admin):
        try:
            start.wait()
            label_review_create(assignment_id=target.pk, reviewer=admin, decision="reject", reason="race")
            outcomes["rejected"] += 1
        except Conflict:
            outcomes["conflict"] += 1
        except Exception as exc:  # reported by the main thread
            errors.append(repr(exc))
        finally:
            connection.close()

    def ask(user):
        try:
            start.wait()
            # Keep asking until both rejections have been decided, so a newcomer can see the re-opened slot.
            while outcomes["rejected"] + outcomes["conflict"] < 2 or not outcomes["leased"]:
                lease = assignment_next(labeler=user, campaign_id=campaign.pk)
                if lease is not None:
                    outcomes["leased"].append(user.pk)
                    return
                if outcomes["rejected"] + outcomes["conflict"] == 2:
                    return  # both decided, nothing for this one: another newcomer took the slot
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=reject, args=(a,)) for a in admins]
    threads += [threading.Thread(target=ask, args=(u,)) for u in newcomers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert (outcomes["rejected"], outcomes["conflict"]) == (1, 1)
    assert len(outcomes["leased"]) == 1
    task = Task.objects.get(campaign=campaign)
    assert (task.submitted_count, task.active_leases, task.status) == (1, 1, "open")
    assert LabelReview.objects.filter(assignment=target, decision="reject").count() == 1
