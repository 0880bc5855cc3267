"""The check that pgw_svc keeps no card number, CVC or IBAN: every pgw table and its log."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

_TABLES = text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'pgw'")


async def pgw_rows(dsn: str) -> dict[str, list[dict[str, object]]]:
    """Every row of every table in schema ``pgw``, by table."""
    engine = create_async_engine(dsn)
    try:
        async with engine.connect() as conn:
            names = [str(n) for n in (await conn.execute(_TABLES)).scalars()]
            return {
                name: [dict(r) for r in (await conn.execute(text(f'SELECT * FROM pgw."{name}"')))
                       .mappings()]
                for name in names
            }  # fmt: skip
    finally:
        await engine.dispose()


def assert_kept_nowhere(secrets: tuple[str, ...], rows: dict[str, list[dict[str, object]]],
                        run_dir: Path) -> None:  # fmt: skip
    """No secret in any stored value nor in any line pgw_svc logged (which is not empty)."""
    stored = " ".join(str(v) for table in rows.values() for row in table for v in row.values())
    assert not [s for s in secrets if s in stored]
    log = (run_dir / "logs" / "pgw_svc.log").read_text(errors="replace")
    assert log, "pgw_svc logged nothing"
    assert not [s for s in secrets if s in log]
    assert "cvc" not in log.lower()
