"""Merging the services' OpenAPI documents into the one public document."""

from __future__ import annotations

from typing import Any

from gateway.openapi import merge_openapi
from gateway.routes import DEFAULT_TABLE


def op(op_id: str, ref: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": op_id, "responses": {"200": {}}}
    if ref:
        schema = {"$ref": f"#/components/schemas/{ref}"}
        operation["responses"]["200"] = {"content": {"application/json": {"schema": schema}}}
    return operation


USER_DOC = {
    "openapi": "3.1.0",
    "paths": {
        "/auth/login": {"post": op("login", "Tokens")},
        "/users/me": {"get": op("me", "Error")},
        "/.well-known/jwks.json": {"get": op("jwks")},
        "/internal/debug": {"get": op("debug")},
    },
    "components": {
        "schemas": {
            "Tokens": {"type": "object"},
            "Error": {"type": "object", "properties": {"code": {"type": "string"}}},
            "Shared": {"type": "string"},
        }
    },
}
WALLET_DOC = {
    "openapi": "3.1.0",
    "paths": {
        "/wallets/{wallet_id}": {"get": op("me", "Error"), "parameters": []},
        "/auth/login": {"post": op("stolen")},
    },
    "components": {
        "schemas": {
            "Error": {"type": "object", "properties": {"reason": {"type": "string"}}},
            "Shared": {"type": "string"},
        }
    },
}


def test_paths_are_prefixed_and_kept_only_where_the_table_routes_them() -> None:
    doc = merge_openapi({"user_svc": USER_DOC, "wallet_svc": WALLET_DOC}, DEFAULT_TABLE)
    assert sorted(doc["paths"]) == [
        "/api/v1/.well-known/jwks.json",
        "/api/v1/auth/login",
        "/api/v1/users/me",
        "/api/v1/wallets/{wallet_id}",
    ]
    # /auth/login comes from user_svc, not from the wallet service that also claims it
    assert doc["paths"]["/api/v1/auth/login"]["post"]["operationId"] == "login"


def test_conflicting_components_are_renamed_and_their_refs_follow() -> None:
    doc = merge_openapi({"user_svc": USER_DOC, "wallet_svc": WALLET_DOC}, DEFAULT_TABLE)
    schemas = doc["components"]["schemas"]
    # identical definitions are shared, different ones get the upstream's name
    assert schemas["Shared"] == {"type": "string"}
    assert "wallet_svc__Shared" not in schemas
    assert schemas["Error"]["properties"] == {"code": {"type": "string"}}
    assert schemas["wallet_svc__Error"]["properties"] == {"reason": {"type": "string"}}
    wallet_op = doc["paths"]["/api/v1/wallets/{wallet_id}"]["get"]
    ref = wallet_op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/wallet_svc__Error"
    user_op = doc["paths"]["/api/v1/users/me"]["get"]
    ref = user_op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/Error"


def test_operation_ids_stay_unique_and_operations_are_tagged_by_service() -> None:
    doc = merge_openapi({"user_svc": USER_DOC, "wallet_svc": WALLET_DOC}, DEFAULT_TABLE)
    assert doc["paths"]["/api/v1/users/me"]["get"]["operationId"] == "me"
    wallet_op = doc["paths"]["/api/v1/wallets/{wallet_id}"]["get"]
    assert wallet_op["operationId"] == "wallet_svc__me"
    assert wallet_op["tags"] == ["wallet_svc"]


def test_public_operations_need_no_token_and_the_rest_a_bearer() -> None:
    doc = merge_openapi({"user_svc": USER_DOC}, DEFAULT_TABLE)
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert doc["paths"]["/api/v1/auth/login"]["post"]["security"] == []
    assert doc["paths"]["/api/v1/.well-known/jwks.json"]["get"]["security"] == []
    assert "security" not in doc["paths"]["/api/v1/users/me"]["get"]


def test_what_the_gateway_answers_itself_is_declared_as_problem_json() -> None:
    doc = merge_openapi({"user_svc": USER_DOC}, DEFAULT_TABLE)
    login = doc["paths"]["/api/v1/auth/login"]["post"]["responses"]
    me = doc["paths"]["/api/v1/users/me"]["get"]["responses"]
    assert set(login) == {"200", "429", "502", "503", "504"}  # public: no 401
    assert set(me) == {"200", "401", "429", "502", "503", "504"}
    assert me["401"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }


def test_merging_leaves_the_inputs_untouched_and_tolerates_no_documents() -> None:
    before = repr(WALLET_DOC)
    merge_openapi({"user_svc": USER_DOC, "wallet_svc": WALLET_DOC}, DEFAULT_TABLE)
    assert repr(WALLET_DOC) == before
    empty = merge_openapi({}, DEFAULT_TABLE)
    assert empty["paths"] == {} and empty["openapi"] == "3.1.0"
