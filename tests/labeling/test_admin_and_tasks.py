"""Admin pages load for every model; the Celery beat task calls the expiry service."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.utils import timezone

from labeling import models
from labeling.models import Assignment
from labeling.services.queue import assignment_next
from labeling.tasks import expire_stale_leases

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", [m for m in admin.site._registry if m._meta.app_label == "labeling"], ids=lambda m: m.__name__)
def test_admin_changelist_and_add_pages(superuser_client, make_campaign, labeler, model):
    make_campaign(n=2)
    assignment_next(labeler=labeler)
    name = model._meta.model_name
    assert superuser_client.get(f"/admin/labeling/{name}/").status_code == 200
    assert superuser_client.get(f"/admin/labeling/{name}/?q=1").status_code == 200
    obj = model.objects.first()
    if obj is not None:
        assert superuser_client.get(f"/admin/labeling/{name}/{obj.pk}/change/").status_code == 200
    add = superuser_client.get(f"/admin/labeling/{name}/add/").status_code
    read_only = (models.DatasetSnapshot, models.ApiToken, models.LabelReview, models.LabelerQualification,
                 models.ProgressTaskBlock, models.ProgressTotal, models.ProgressHour, models.ProgressLabeler,
                 models.DashboardState, models.DashboardReport)
    assert add == (403 if model in read_only else 200)


def test_every_model_is_registered():
    from django.apps import apps

    assert set(apps.get_app_config("labeling").get_models()) <= set(admin.site._registry)


def test_expire_stale_leases_task(make_campaign, labeler):
    make_campaign(n=1, lease_seconds=30)
    a = assignment_next(labeler=labeler)
    Assignment.objects.filter(pk=a.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert expire_stale_leases.apply().get() == 1
    a.refresh_from_db()
    assert a.status == Assignment.Status.EXPIRED
    assert a.task.__class__.objects.get(pk=a.task_id).active_leases == 0
