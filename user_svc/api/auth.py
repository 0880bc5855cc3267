"""``/auth/*``: registration, login, token refresh, logout, email verification."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from common.auth import CurrentPrincipal
from common.openapi import errors
from user_svc.api.deps import IdentityDep, TraceDep
from user_svc.schemas import (
    LoginIn,
    RefreshIn,
    RegisterIn,
    TokenPair,
    UserPublic,
    VerifyEmailIn,
)

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    responses=errors(409),
)
async def register(body: RegisterIn, identity: IdentityDep, trace: TraceDep) -> object:
    user = await identity.register(body.email, body.password, body.full_name, body.role, trace)
    return user.public()


@router.post("/login", response_model=TokenPair, responses=errors(401, 429))
async def login(body: LoginIn, identity: IdentityDep) -> object:
    return await identity.login(body.email, body.password)


@router.post("/refresh", response_model=TokenPair, responses=errors(401, 403))
async def refresh(body: RefreshIn, identity: IdentityDep) -> object:
    return await identity.refresh(body.refresh_token)


@router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, response_model=None, responses=errors(403)
)
async def logout(body: RefreshIn, principal: CurrentPrincipal, identity: IdentityDep) -> Response:
    await identity.logout(principal.subject, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/verify-email", response_model=UserPublic, responses=errors(400))
async def verify_email(body: VerifyEmailIn, identity: IdentityDep, trace: TraceDep) -> object:
    user = await identity.verify_email(body.token, trace)
    return user.public()
