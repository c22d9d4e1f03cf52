"""Clients for the two services the assistant's tools call: knowledge search and sales-meeting booking.

Each has an HTTP implementation (httpx; base URL, API key and timeout from settings) and an in-process fake
with the same Protocol, for tests, `voice-analytics simulate` and the demo. The fakes can be told to fail,
once or for every call, so the failure path of a tool is as easy to exercise as the happy one.

HTTP contract assumed (JSON bodies, bearer token):
    POST {KNOWLEDGE_SEARCH_URL}/search    {"query", "category"}
        -> {"results": [{"title", "snippet", "url"}], "total_results"}
    POST {MEETING_BOOKING_URL}/meetings   {"customer_name", "customer_email", "company", "preferred_time"}
        -> {"meeting_id", "scheduled_for"}
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx


class ToolClientError(Exception):
    """A tool backend failed; the message says which service and why (never shown to the caller verbatim)."""


class ToolClientTimeout(ToolClientError):
    """A tool backend did not answer within its timeout."""


@dataclass(frozen=True)
class KnowledgeHit:
    title: str
    snippet: str
    url: str = ""


@dataclass(frozen=True)
class KnowledgeResult:
    hits: list[KnowledgeHit]
    total_results: int


@dataclass(frozen=True)
class MeetingBooking:
    meeting_id: str
    scheduled_for: str


class KnowledgeSearchClient(Protocol):
    async def search(self, query: str, category: str) -> KnowledgeResult: ...


class MeetingBookingClient(Protocol):
    async def book(
        self, *, customer_name: str, customer_email: str, company: str, preferred_time: str
    ) -> MeetingBooking: ...


class _HttpJsonClient:
    service = "tool service"

    def __init__(
        self, *, base_url: str, api_key: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        if not base_url:
            raise ValueError(f"{self.service}: a base URL is required for the HTTP client")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # `transport` lets tests put a fake server on the far side of the real client.
        self._http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout_s, transport=transport)

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._http.post(path, json=payload)
        except httpx.TimeoutException as error:
            raise ToolClientTimeout(f"{self.service} timed out on POST {path}") from error
        except httpx.HTTPError as error:
            raise ToolClientError(f"{self.service} unreachable on POST {path}: {error}") from error
        if response.status_code >= 400:
            raise ToolClientError(f"{self.service} answered HTTP {response.status_code} on POST {path}")
        try:
            body = response.json()
        except ValueError as error:
            raise ToolClientError(f"{self.service} answered non-JSON on POST {path}") from error
        if not isinstance(body, dict):
            raise ToolClientError(f"{self.service} answered a JSON {type(body).__name__}, expected an object")
        return body

    async def aclose(self) -> None:
        await self._http.aclose()


class HttpKnowledgeSearchClient(_HttpJsonClient):
    service = "knowledge search"

    async def search(self, query: str, category: str) -> KnowledgeResult:
        body = await self._post("/search", {"query": query, "category": category})
        raw_hits = body.get("results") or []
        if not isinstance(raw_hits, list):
            raise ToolClientError("knowledge search answered 'results' that is not a list")
        hits = [
            KnowledgeHit(
                title=str(hit.get("title", "")), snippet=str(hit.get("snippet", "")), url=str(hit.get("url", ""))
            )
            for hit in raw_hits
            if isinstance(hit, dict)
        ]
        total = body.get("total_results", len(hits))
        return KnowledgeResult(hits=hits, total_results=int(total) if isinstance(total, int | float) else len(hits))


class HttpMeetingBookingClient(_HttpJsonClient):
    service = "meeting booking"

    async def book(
        self, *, customer_name: str, customer_email: str, company: str, preferred_time: str
    ) -> MeetingBooking:
        body = await self._post(
            "/meetings",
            {
                "customer_name": customer_name,
                "customer_email": customer_email,
                "company": company,
                "preferred_time": preferred_time,
            },
        )
        meeting_id = body.get("meeting_id")
        if not isinstance(meeting_id, str) or not meeting_id:
            raise ToolClientError("meeting booking answered without a meeting_id")
        return MeetingBooking(meeting_id=meeting_id, scheduled_for=str(body.get("scheduled_for", preferred_time)))


@dataclass
class FailureSwitch:
    """When a fake fails: `always` for every call, or a queue of per-call modes (None: succeed) in call order.

    Modes: "timeout" raises ToolClientTimeout; anything else raises ToolClientError with that text.
    """

    always: str | None = None
    planned: deque[str | None] = field(default_factory=deque)

    def plan(self, modes: Iterable[str | None]) -> None:
        self.planned.extend(modes)

    def check(self, service: str) -> None:
        mode = self.planned.popleft() if self.planned else self.always
        if mode is None:
            return
        if mode == "timeout":
            raise ToolClientTimeout(f"{service} timed out (simulated)")
        raise ToolClientError(f"{service} failed (simulated): {mode}")


_KNOWLEDGE = [
    KnowledgeHit(
        "Salesforce integration",
        "Native two-way sync of documents and signature status with Salesforce.",
        "https://docs.example.com/integrations/salesforce",
    ),
    KnowledgeHit(
        "HubSpot integration",
        "Attach generated documents to HubSpot deals and contacts.",
        "https://docs.example.com/integrations/hubspot",
    ),
    KnowledgeHit(
        "Google Drive and SharePoint",
        "Store finished documents in Drive or SharePoint folders automatically.",
        "https://docs.example.com/integrations/storage",
    ),
    KnowledgeHit(
        "Pricing",
        "Team plans are priced per seat with volume tiers from 500 documents a month.",
        "https://docs.example.com/pricing",
    ),
    KnowledgeHit(
        "Security", "SOC 2 Type II, SSO with SAML, data residency in the EU or US.", "https://docs.example.com/security"
    ),
    KnowledgeHit(
        "Templates",
        "Build contract templates with conditional clauses and variables.",
        "https://docs.example.com/templates",
    ),
]


class FakeKnowledgeSearchClient:
    """Keyword match over a small built-in knowledge base."""

    def __init__(self, failures: FailureSwitch | None = None) -> None:
        self.failures = failures or FailureSwitch()
        self.queries: list[tuple[str, str]] = []

    async def search(self, query: str, category: str) -> KnowledgeResult:
        self.queries.append((query, category))
        self.failures.check("knowledge search")
        words = {word for word in f"{query} {category}".lower().split() if len(word) > 3}
        hits = [hit for hit in _KNOWLEDGE if words & set(f"{hit.title} {hit.snippet}".lower().split())]
        return KnowledgeResult(hits=hits[:3], total_results=len(hits))


class FakeMeetingBookingClient:
    """Books every request; the meeting id is derived from the request so reruns give the same id."""

    def __init__(self, failures: FailureSwitch | None = None) -> None:
        self.failures = failures or FailureSwitch()
        self.bookings: list[MeetingBooking] = []

    async def book(
        self, *, customer_name: str, customer_email: str, company: str, preferred_time: str
    ) -> MeetingBooking:
        self.failures.check("meeting booking")
        digest = hashlib.sha256(f"{customer_email}|{preferred_time}".encode()).hexdigest()[:10]
        booking = MeetingBooking(meeting_id=f"mtg_{digest}", scheduled_for=preferred_time)
        self.bookings.append(booking)
        return booking
