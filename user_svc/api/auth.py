"""``/auth/*``: registration, login, token refresh, logout, email verification, passwords."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Response, status

from common.auth import CurrentPrincipal
from common.errors import Problem
from common.openapi import errors
from user_svc.api.deps import IdentityDep, TraceDep
from user_svc.schemas import (
    ChangePasswordIn,
    ForgotPasswordAccepted,
    ForgotPasswordIn,
    LoginIn,
    RefreshIn,
    RegisterIn,
    ResetPasswordIn,
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


@router.post(
    "/password/forgot",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ForgotPasswordAccepted,
    responses=errors(),
)
async def forgot_password(
    body: ForgotPasswordIn, identity: IdentityDep, trace: TraceDep, tasks: BackgroundTasks
) -> object:
    """Mail a reset link if an account has this email. The work runs after the answer is
    sent, so known and unknown emails take the same time (and get the same answer)."""
    tasks.add_task(identity.forgot_password, body.email, trace)
    return {"detail": "if an account has this email, a reset link is on its way"}


@router.post(
    "/password/reset",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses=errors(400, 422),
)
async def reset_password(body: ResetPasswordIn, identity: IdentityDep, trace: TraceDep) -> Response:
    """Set a new password with the mailed token; every session of the account ends."""
    await identity.reset_password(body.token, body.new_password, trace)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/password/change",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses=errors(403, 422, 429),
)
async def change_password(
    body: ChangePasswordIn, principal: CurrentPrincipal, identity: IdentityDep, trace: TraceDep
) -> Response:
    """Replace the password; every session of the account ends, this one too."""
    if principal.kind != "user":
        raise Problem(403, "forbidden", "only a person has a password")
    await identity.change_password(
        principal.subject, body.current_password, body.new_password, trace
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
