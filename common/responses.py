"""A JSON response rendered by orjson (FastAPI's own OrjsonResponse is deprecated)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    """Serializes with orjson: fast, and datetimes/UUIDs come out in ISO/canonical form."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
