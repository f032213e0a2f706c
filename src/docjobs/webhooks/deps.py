"""Shared clients for the routes, built at start-up (lifespan) and reached through Depends."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from docjobs.jobs.store import JobStore
from docjobs.settings import Settings


def get_store(request: Request) -> JobStore:
    return request.app.state.store  # type: ignore[no-any-return]


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


StoreDep = Annotated[JobStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
