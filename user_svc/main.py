"""Composition root of user_svc."""

from __future__ import annotations

from fastapi import FastAPI

from common.service import skeleton_app
from common.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    return skeleton_app(settings, postgres=True, kafka=True, redis=True)
