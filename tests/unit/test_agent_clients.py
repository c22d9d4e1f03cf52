"""The HTTP tool clients against a fake server on the far side (httpx.MockTransport), and the fakes' switches."""

from __future__ import annotations

import json

import httpx
import pytest

from agent.clients import (
    FailureSwitch,
    FakeKnowledgeSearchClient,
    HttpKnowledgeSearchClient,
    HttpMeetingBookingClient,
    ToolClientError,
    ToolClientTimeout,
)


async def test_knowledge_search_sends_query_with_api_key_and_parses_results() -> None:
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"results": [{"title": "Salesforce", "snippet": "sync"}], "total_results": 7})

    client = HttpKnowledgeSearchClient(
        base_url="https://kb.test", api_key="k-123", timeout_s=1, transport=httpx.MockTransport(server)
    )
    result = await client.search("salesforce", "integrations")

    assert result.total_results == 7 and result.hits[0].title == "Salesforce"
    assert seen[0].url.path == "/search" and seen[0].headers["Authorization"] == "Bearer k-123"
    assert json.loads(seen[0].content) == {"query": "salesforce", "category": "integrations"}


async def test_booking_server_error_and_timeout_become_tool_client_errors() -> None:
    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "down"})

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    arguments = {"customer_name": "D", "customer_email": "d@x.com", "company": "A", "preferred_time": "now"}
    failing_client = HttpMeetingBookingClient(
        base_url="https://book.test", api_key="", timeout_s=1, transport=httpx.MockTransport(failing)
    )
    with pytest.raises(ToolClientError, match="HTTP 503"):
        await failing_client.book(**arguments)
    slow_client = HttpMeetingBookingClient(
        base_url="https://book.test", api_key="", timeout_s=1, transport=httpx.MockTransport(slow)
    )
    with pytest.raises(ToolClientTimeout):
        await slow_client.book(**arguments)


async def test_fake_client_fails_as_planned_then_as_switched() -> None:
    fake = FakeKnowledgeSearchClient(FailureSwitch())
    fake.failures.plan([None, "timeout"])
    assert (await fake.search("salesforce integration", "integrations")).total_results >= 1
    with pytest.raises(ToolClientTimeout):
        await fake.search("pricing", "pricing")
    fake.failures.always = "maintenance"
    with pytest.raises(ToolClientError, match="maintenance"):
        await fake.search("pricing", "pricing")
