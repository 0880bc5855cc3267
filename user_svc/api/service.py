"""``/service/*`` (machine clients) and ``/.well-known/jwks.json``."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.auth import Principal, require_roles
from common.errors import Problem
from common.openapi import errors
from common.responses import OrjsonResponse
from user_svc.api.deps import AccountsDep, ClientsDep, IdentityDep, KeysDep, SettingsDep
from user_svc.schemas import (
    EmailLink,
    EmailLinkIn,
    Jwks,
    ServiceToken,
    TokenVerifyIn,
    UserContact,
)

router = APIRouter(tags=["service"])
Service = Annotated[Principal, require_roles("service")]


class ClientCredentials(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "grant_type": "client_credentials",
                    "client_id": "svc_1",
                    "client_secret": "s3cr3t",
                }
            ]
        }
    )

    grant_type: Literal["client_credentials"]
    client_id: str = Field(max_length=128)
    client_secret: str = Field(max_length=1024)
    scope: str | None = Field(default=None, max_length=2048)


async def _grant_request(request: Request) -> ClientCredentials:
    """The grant from an ``application/x-www-form-urlencoded`` (RFC 6749) or JSON body."""
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        data: Any = (
            dict(parse_qsl(raw.decode(), keep_blank_values=True))
            if kind == "application/x-www-form-urlencoded"
            else orjson.loads(raw or b"{}")
        )
        return ClientCredentials.model_validate(data)
    except (ValidationError, ValueError, UnicodeDecodeError):
        raise Problem(400, "invalid_request",
                      "expected grant_type, client_id and client_secret") from None  # fmt: skip


# The body is read by hand (JSON or a form), so its two shapes are declared here.
_GRANT = ClientCredentials.model_json_schema()
_GRANT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _GRANT},
            "application/x-www-form-urlencoded": {"schema": _GRANT},
        },
    }
}


@router.post(
    "/service/token",
    response_model=ServiceToken,
    responses=errors(400, 401),
    openapi_extra=_GRANT_BODY,
)
async def service_token(request: Request, clients: ClientsDep) -> object:
    grant = await _grant_request(request)
    return await clients.grant(grant.grant_type, grant.client_id, grant.client_secret,
                               grant.scope)  # fmt: skip


@router.post("/service/verify", response_model=dict[str, Any], responses=errors(403))
async def verify_token(body: TokenVerifyIn, _: Service, clients: ClientsDep) -> dict[str, Any]:
    """The claims of a valid access token; 401 when it is not valid."""
    return await clients.introspect(body.token)


@router.get("/.well-known/jwks.json", response_model=Jwks)
async def jwks(keys: KeysDep) -> OrjsonResponse:
    return OrjsonResponse(await keys.jwks())


@router.post("/internal/email-links", response_model=EmailLink, responses=errors(403, 404))
async def email_link(
    body: EmailLinkIn, caller: Service, identity: IdentityDep, settings: SettingsDep
) -> object:
    """The one-time token of an email request (verification or reset), made now for the
    mail that carries it; only the mailer's service client may ask. Each call replaces
    the request's earlier token."""
    if caller.subject not in settings.email_link_clients:
        raise Problem(403, "forbidden", "this client may not fetch email links")
    token, issued = await identity.issue_link_token(body.request_id)
    return {"token": token, "purpose": issued.purpose, "user_id": str(issued.user_id),
            "expires_at": issued.expires_at}  # fmt: skip


@router.get("/internal/users/{user_id}/contact", response_model=UserContact,
            responses=errors(403, 404))  # fmt: skip
async def user_contact(
    user_id: str, caller: Service, accounts: AccountsDep, settings: SettingsDep
) -> object:
    """A user's email and name, for the mailer's service client only: its own projection
    of ``UserRegistered`` may not have the user yet when an event about them arrives."""
    if caller.subject not in settings.email_link_clients:
        raise Problem(403, "forbidden", "this client may not read contacts")
    user = await accounts.get(user_id)
    return {"user_id": str(user.id), "email": user.email, "full_name": user.full_name}
