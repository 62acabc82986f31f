"""Auth endpoints: token for scripts, session login/logout + CSRF cookie for the SPA, and ``/me``."""

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import roles
from labeling.api.errors import BadRequest
from labeling.api.throttling import AuthAttemptThrottle
from labeling.selectors.campaigns import campaigns_available_to_labeler
from labeling.selectors.users import user_has_role, user_label_counts, user_roles
from labeling.services.users import user_token_get_or_create, user_token_revoke


class CredentialsInput(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.ChoiceField(choices=roles.ALL_ROLES))
    is_staff = serializers.BooleanField()


def _user_data(user) -> dict:
    return {"id": user.pk, "username": user.get_username(), "roles": user_roles(user), "is_staff": user.is_staff}


def _authenticate(request):
    data = CredentialsInput(data=request.data)
    data.is_valid(raise_exception=True)
    user = authenticate(request._request, **data.validated_data)
    if user is None:  # wrong password, unknown user and inactive user look the same on purpose
        raise BadRequest("invalid username or password")
    return user


class TokenApi(APIView):
    """Exchange a username + password for an API token (scripts, the load benchmark)."""

    authentication_classes = []  # credentials are in the body; no cookie, so no CSRF either
    permission_classes = [AllowAny]
    throttle_classes = [AuthAttemptThrottle]  # slows password guessing, per client IP

    @extend_schema(
        request=CredentialsInput,
        responses={200: inline_serializer("TokenOutput", {"token": serializers.CharField()})},
        tags=["auth"],
    )
    def post(self, request):
        user = _authenticate(request)
        return Response({"token": user_token_get_or_create(user=user)})


class LoginApi(APIView):
    """Session login for the browser. CSRF is checked even though nobody is logged in yet
    (login CSRF): get the cookie from ``GET /auth/csrf`` first."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthAttemptThrottle]

    @extend_schema(
        request=CredentialsInput,
        responses={200: inline_serializer("LoginOutput", {"user": UserOutput()})},
        tags=["auth"],
    )
    def post(self, request):
        SessionAuthentication().enforce_csrf(request)
        user = _authenticate(request)
        login(request._request, user)
        return Response({"user": _user_data(user)})


class LogoutApi(APIView):
    """End the session; when called with a token, that token is revoked too."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request):
        if isinstance(request.auth, Token):
            user_token_revoke(user=request.user)
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CsrfApi(APIView):
    """Sets the ``csrftoken`` cookie and returns its value (send it back as ``X-CSRFToken``)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: inline_serializer("CsrfOutput", {"csrfToken": serializers.CharField()})}, tags=["auth"])
    def get(self, request):
        return Response({"csrfToken": get_token(request._request)})


class MeOutput(UserOutput):
    counts = inline_serializer(
        "MeCounts", {k: serializers.IntegerField() for k in ("today", "total", "demonstrations", "rankings", "skipped")}
    )
    campaigns = inline_serializer(
        "MeCampaign",
        {
            "id": serializers.IntegerField(),
            "name": serializers.CharField(),
            "status": serializers.CharField(),
            "open_tasks": serializers.IntegerField(),
        },
        many=True,
    )


class MeApi(APIView):
    """Who am I: roles, my label counts, the active campaigns I can still work on."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: MeOutput}, tags=["auth"])
    def get(self, request):
        user = request.user
        campaigns = campaigns_available_to_labeler(labeler=user) if user_has_role(user, roles.LABELER) else []
        data = {**_user_data(user), "counts": user_label_counts(user=user), "campaigns": campaigns}
        return Response(MeOutput(data).data)
