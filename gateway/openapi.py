"""One OpenAPI document for the whole public API, merged from the services' documents.

Each upstream's ``/openapi.json`` is fetched on its forwarding pool (concurrently, cached for
``openapi_cache_ttl_s``); an upstream that does not answer contributes its last good
document, or nothing, and is listed under ``x-upstreams``. :func:`merge_openapi` is pure.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from common.openapi import add_error, problem_schemas
from gateway.routes import API_PREFIX, RouteTable
from gateway.upstreams import Upstream

log = logging.getLogger("paystream.gateway.openapi")

Doc = dict[str, Any]
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
BEARER = "bearerAuth"
# What the gateway itself answers for any operation: rate limited, upstream down (circuit
# open), no valid answer, too slow.
GATEWAY_STATUSES = (429, 502, 503, 504)


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    """A copy of ``node`` with every ``$ref`` in ``renames`` replaced."""
    if isinstance(node, dict):
        return {
            k: renames.get(v, v)
            if k == "$ref" and isinstance(v, str)
            else _rewrite_refs(v, renames)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


def merge_openapi(
    docs: dict[str, Doc], table: RouteTable, title: str = "paystream", version: str = "1"
) -> Doc:
    """Merge upstream documents (name -> document) into one public document.

    - Only paths the route table sends to that upstream are kept, under ``/api/v1``.
    - Components with the same name and the same content are shared; a name that means
      different things in two services becomes ``<upstream>__<name>`` in the second one,
      with its ``$ref``s rewritten.
    - operationIds that collide get the upstream as a prefix; untagged operations get the
      upstream as their tag.
    - Every operation needs a bearer token except the public ones (``security: []``).
    """
    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {}
    op_ids: set[str] = set()
    tags: dict[str, Any] = {}
    for name in sorted(docs):
        doc = docs[name]
        renames: dict[str, str] = {}
        for section, items in (doc.get("components") or {}).items():
            merged = components.setdefault(section, {})
            for key, value in items.items():
                if key in merged and merged[key] != value:
                    renames[f"#/components/{section}/{key}"] = (
                        f"#/components/{section}/{name}__{key}"
                    )
        doc = _rewrite_refs(doc, renames) if renames else copy.deepcopy(doc)
        for section, items in (doc.get("components") or {}).items():
            merged = components[section]
            for key, value in items.items():
                ref = f"#/components/{section}/{key}"
                merged[renames[ref].rsplit("/", 1)[1] if ref in renames else key] = value
        for tag in doc.get("tags") or []:
            tags.setdefault(tag["name"], tag)
        for path, item in (doc.get("paths") or {}).items():
            if table.resolve(path) != name:
                continue  # internal, or served by another upstream
            for method in HTTP_METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                if op.get("operationId") in op_ids:
                    op["operationId"] = f"{name}__{op['operationId']}"
                if "operationId" in op:
                    op_ids.add(op["operationId"])
                op.setdefault("tags", [name])
                if table.is_public(method, path):
                    op["security"] = []
                else:
                    add_error(op, 401)  # the gateway refuses a missing or bad token
                for status in GATEWAY_STATUSES:
                    add_error(op, status)
            paths[API_PREFIX + path] = item
    for name, schema in problem_schemas().items():  # what the added errors refer to
        components.setdefault("schemas", {}).setdefault(name, schema)
    schemes = components.setdefault("securitySchemes", {})
    schemes.setdefault(BEARER, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    merged_doc: Doc = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": components,
        "security": [{BEARER: []}],
    }
    if tags:
        merged_doc["tags"] = list(tags.values())
    return merged_doc


class OpenApiAggregator:
    """Fetches and caches the upstreams' documents and serves the merged one."""

    def __init__(
        self,
        upstreams: dict[str, Upstream],
        table: RouteTable,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        fetch_timeout_s: float = 3.0,
    ) -> None:
        self.upstreams = upstreams
        self.table = table
        self.ttl_s = ttl_s
        self._clock = clock
        self._fetch_timeout_s = fetch_timeout_s
        self._docs: dict[str, Doc] = {}
        self._fetched_at: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def _fetch(self, upstream: Upstream) -> str:
        """Refresh one document; the outcome for ``x-upstreams``."""
        try:
            status, _, body = await upstream.pool.request(
                "GET", f"{upstream.path}/openapi.json", timeout=self._fetch_timeout_s
            )
            if status != 200:
                raise RuntimeError(f"/openapi.json answered {status}")
            doc = orjson.loads(body)
        except Exception as exc:
            log.warning("openapi of %s unavailable: %s", upstream.name, exc)
            return "stale" if upstream.name in self._docs else "unavailable"
        self._docs[upstream.name] = doc
        self._fetched_at[upstream.name] = self._clock()
        return "ok"

    async def document(self) -> Doc:
        async with self._lock:
            now = self._clock()
            stale = [
                u
                for n, u in self.upstreams.items()
                if n not in self._fetched_at or now - self._fetched_at[n] >= self.ttl_s
            ]
            outcomes = await asyncio.gather(*(self._fetch(u) for u in stale))
            status = {n: "ok" for n in self.upstreams}
            status.update({u.name: o for u, o in zip(stale, outcomes, strict=True)})
            doc = merge_openapi(self._docs, self.table)
        doc["x-upstreams"] = status
        return doc
