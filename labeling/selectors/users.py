"""Who the user is: roles and their labeling counts."""

from datetime import datetime, time

from django.db.models import Count, Q
from django.utils import timezone

from labeling import roles as role_names
from labeling.models import Assignment, Task

_CACHE_ATTR = "_prefloop_roles"


def user_roles(user) -> list[str]:
    """The user's role names (subset of ``labeling.roles.ALL_ROLES``), one query, cached on the
    instance for the rest of the request (permission checks call this several times)."""
    if not user or not user.is_authenticated:
        return []
    cached = user.__dict__.get(_CACHE_ATTR)
    if cached is None:
        names = set(user.groups.filter(name__in=role_names.ALL_ROLES).values_list("name", flat=True))
        cached = [r for r in role_names.ALL_ROLES if r in names]
        user.__dict__[_CACHE_ATTR] = cached
    return cached


def user_has_role(user, *roles: str) -> bool:
    """Staff pass every role check; others need one of ``roles``."""
    if not user or not user.is_authenticated:
        return False
    return bool(user.is_staff or set(roles) & set(user_roles(user)))


def user_label_counts(*, user, now: datetime | None = None) -> dict[str, int]:
    """``{today, total, demonstrations, rankings, skipped}`` in one query; "today" starts at local
    midnight (settings.TIME_ZONE)."""
    now = now or timezone.now()
    midnight = timezone.make_aware(datetime.combine(timezone.localtime(now).date(), time.min))
    submitted = Q(status=Assignment.Status.SUBMITTED)
    return Assignment.objects.filter(labeler=user).aggregate(
        today=Count("id", filter=submitted & Q(submitted_at__gte=midnight)),
        total=Count("id", filter=submitted),
        demonstrations=Count("id", filter=submitted & Q(task__kind=Task.Kind.DEMONSTRATION)),
        rankings=Count("id", filter=submitted & Q(task__kind=Task.Kind.RANKING)),
        skipped=Count("id", filter=Q(status=Assignment.Status.SKIPPED)),
    )
