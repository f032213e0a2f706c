"""Slack's HTTP endpoint (events, slash commands, interactivity), dispatched by Bolt.

Bolt's FastAPI adapter calls the synchronous `App.dispatch` on the event loop; here it runs in
the thread pool instead, so one slow dispatch (the first auth.test) never stalls other acks.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool

router = APIRouter()


@router.post("/slack/events")
async def slack_events(request: Request) -> Response:
    bolt: App = request.app.state.bolt
    body = await request.body()
    bolt_response = await run_in_threadpool(bolt.dispatch, to_bolt_request(request, body))
    return to_starlette_response(bolt_response)
