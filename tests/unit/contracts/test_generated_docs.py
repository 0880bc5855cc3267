"""docs/contracts/ is what `python -m contracts.generate` makes from the contract classes."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from contracts.envelope import Envelope
from contracts.generate import OUT, asyncapi, render, schema_path, stale, write
from contracts.topics import PUBLIC
from contracts.user import UserRegistered


def test_the_committed_schemas_and_asyncapi_document_are_up_to_date() -> None:
    assert stale() == [], "run `python -m contracts.generate` and commit docs/contracts/"


def test_a_stale_missing_or_extra_file_is_found(tmp_path: Path) -> None:
    write(tmp_path)
    assert stale(tmp_path) == []
    some = schema_path("user-events", UserRegistered)
    (tmp_path / some).write_text("{}\n")
    (tmp_path / "asyncapi.json").unlink()
    (tmp_path / "user-events" / "Gone.v1.json").write_text("{}\n")
    assert stale(tmp_path) == sorted(["asyncapi.json", some, "user-events/Gone.v1.json"])


def test_every_public_message_has_a_valid_schema_that_its_envelope_meets() -> None:
    files = render()
    for topic in PUBLIC:
        for message in topic.messages:
            schema = json.loads(files[schema_path(topic.name, message)])
            Draft202012Validator.check_schema(schema)
            assert schema["properties"]["type"] == {"const": message.__name__}
    registered = UserRegistered(user_id="u1", email="a@example.com", full_name="A", role="user")
    wire = json.loads(Envelope.of(registered, key="u1", producer="user_svc").to_bytes())
    schema = json.loads((OUT / schema_path("user-events", UserRegistered)).read_text())
    validator = Draft202012Validator(schema)
    assert list(validator.iter_errors(wire)) == []
    assert list(validator.iter_errors({**wire, "payload": {**wire["payload"], "role": 1}}))
    assert list(validator.iter_errors({**wire, "type": "EmailVerified"}))


def test_the_asyncapi_document_declares_the_four_public_topics_and_resolves() -> None:
    doc = asyncapi()
    assert doc["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {"payment-events", "transaction-events", "wallet-events", "user-events"}
    files = render()
    for message in doc["components"]["messages"].values():
        assert message["payload"]["$ref"].removeprefix("./") in files
    for operation in doc["operations"].values():
        channel = operation["channel"]["$ref"].removeprefix("#/channels/")
        for ref in operation["messages"]:
            assert ref["$ref"].split("/")[-1] in doc["channels"][channel]["messages"]
