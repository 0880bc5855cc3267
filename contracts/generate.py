"""Write the JSON Schema of every public message and the AsyncAPI 3 document of the public
topics into ``docs/contracts/``, made from the contract classes.

    python -m contracts.generate          # (re)write the files
    python -m contracts.generate --check  # exit 1 if the committed files are stale

A message's schema is its whole envelope: ``type`` and ``schema_version`` fixed to the
message's, ``payload`` the message. Files are named ``<topic>/<Type>.v<version>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from contracts.envelope import Envelope
from contracts.message import Message
from contracts.topics import PUBLIC, PublicTopic

OUT = Path(__file__).resolve().parents[1] / "docs" / "contracts"
ASYNCAPI = "asyncapi.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
HEADERS = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "description": "The envelope's type."},
        "traceparent": {
            "type": "string",
            "description": "W3C trace context of the request that caused the message.",
        },
        "chained": {
            "type": "string",
            "description": "On a WalletDebited whose transfer's credit was appended with it.",
        },
    },
    "required": ["type"],
}


def schema_path(topic: str, message: type[Message]) -> str:
    """Where the schema of ``message`` on ``topic`` is, relative to ``docs/contracts``."""
    return f"{topic}/{message.__name__}.v{message.SCHEMA_VERSION}.json"


def message_schema(topic: str, message: type[Message]) -> dict[str, Any]:
    """The JSON Schema of ``message`` in its envelope, as it travels on ``topic``."""
    name = message.__name__
    _, defs = msgspec.json.schema_components([Envelope, message], ref_template="#/$defs/{name}")
    envelope = defs.pop("Envelope")
    properties = dict(envelope["properties"])
    properties["type"] = {"const": name}
    properties["schema_version"] = {"const": message.SCHEMA_VERSION}
    properties["payload"] = {"$ref": f"#/$defs/{name}"}
    # every envelope field is always written (msgspec encodes defaults too)
    return {
        "$schema": DRAFT,
        "$id": schema_path(topic, message),
        "title": f"{name} on {topic}",
        **{k: v for k, v in envelope.items() if k not in ("title", "properties", "required")},
        "properties": properties,
        "required": list(properties),
        "$defs": defs,
    }


def _channel_id(topic: PublicTopic) -> str:
    head, *rest = topic.name.split("-")
    return head + "".join(part.title() for part in rest)


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3 document of the public topics."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in PUBLIC:
        cid = _channel_id(topic)
        names = [m.__name__ for m in topic.messages]
        channels[cid] = {
            "address": topic.name,
            "title": topic.name,
            "description": f"{topic.description} Kafka key: {topic.key}.",
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        }
        operations[f"send{cid[0].upper()}{cid[1:]}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{cid}"},
            "messages": [{"$ref": f"#/channels/{cid}/messages/{n}"} for n in names],
        }
        for m in topic.messages:
            doc = (m.__doc__ or "").strip()
            messages[m.__name__] = {
                "name": m.__name__,
                "title": m.__name__,
                **({"summary": " ".join(doc.split())} if doc else {}),
                "contentType": "application/json",
                "headers": HEADERS,
                "payload": {"$ref": f"./{schema_path(topic.name, m)}"},
                "bindings": {"kafka": {"key": {"type": "string"}, "bindingVersion": "0.5.0"}},
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "paystream public events",
            "version": "1.0.0",
            "description": "The topics a downstream system may read (docs/events.md). Every "
            "message is a JSON envelope whose payload is the message; its schema is the "
            "file the message's payload refers to.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> dict[str, str]:
    """Every generated file: path relative to ``docs/contracts`` -> its text."""
    files = {ASYNCAPI: _dump(asyncapi())}
    for topic in PUBLIC:
        for m in topic.messages:
            files[schema_path(topic.name, m)] = _dump(message_schema(topic.name, m))
    return files


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def stale(out: Path = OUT) -> list[str]:
    """The files under ``out`` that differ from ``render()``, are missing or are extra."""
    files = render()
    present = {str(p.relative_to(out)) for p in out.rglob("*.json")} if out.exists() else set()
    wrong = [p for p, text in files.items() if p not in present or (out / p).read_text() != text]
    return sorted(wrong + [p for p in present if p not in files])


def write(out: Path = OUT) -> None:
    """Write ``render()`` under ``out`` and remove generated files no model makes any more."""
    files = render()
    for old in out.rglob("*.json") if out.exists() else ():
        if str(old.relative_to(out)) not in files:
            old.unlink()
    for path, text in files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    if args.check:
        wrong = stale()
        for path in wrong:
            print(f"stale: docs/contracts/{path}", file=sys.stderr)
        return 1 if wrong else 0
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
