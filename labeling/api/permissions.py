"""Role permissions (Django groups, see labeling.roles). Staff users pass every check.

Anonymous requests get 401 (DRF's NotAuthenticated, as Token auth is the first authenticator);
authenticated users without the role get 403.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from labeling import roles
from labeling.selectors.users import user_has_role


class _HasRole(BasePermission):
    roles: tuple[str, ...] = ()

    def has_permission(self, request, view) -> bool:
        return user_has_role(request.user, *self.roles)


class IsLabeler(_HasRole):
    """Labelers (and staff): the queue and their own assignments."""

    roles = (roles.LABELER,)


class IsCampaignAdmin(_HasRole):
    """Campaign admins (and staff): create and run campaigns, import prompts."""

    roles = (roles.CAMPAIGN_ADMIN,)


class IsResearcher(_HasRole):
    """Researchers (and staff): models, snapshots, training jobs."""

    roles = (roles.RESEARCHER,)


class CanReadQuality(_HasRole):
    """Campaign admins and researchers (and staff): agreement figures, labeler signals, the review queue."""

    roles = (roles.CAMPAIGN_ADMIN, roles.RESEARCHER)


class HasAnyRole(_HasRole):
    """Anyone with a role (or staff): read-only views every role shares."""

    roles = roles.ALL_ROLES


class CanDeleteCampaign(BasePermission):
    """Deleting a campaign: its creator (a campaign admin) or staff. Other campaign admins may run
    it but not remove it; a campaign with no recorded creator (seed scripts) is staff's alone. The
    service still refuses any campaign that ever had an assignment."""

    message = "Only the campaign's creator or staff can delete it."

    def has_object_permission(self, request, view, obj) -> bool:
        user = request.user
        if request.method != "DELETE" or user.is_staff:
            return True
        return obj.created_by_id is not None and obj.created_by_id == user.pk and user_has_role(user, roles.CAMPAIGN_ADMIN)


class CampaignReadAnyRoleWriteAdmin(BasePermission):
    """Read: any role. Write (POST/PATCH/DELETE): campaign admins and staff."""

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return user_has_role(request.user, *roles.ALL_ROLES)
        return user_has_role(request.user, roles.CAMPAIGN_ADMIN)
