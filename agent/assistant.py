"""The assistant the caller talks to: persona from instructions.md, and its tools.

Each tool records itself through the session's collector (arguments, start, duration, success, error, a short
result summary). A tool that fails raises a `ToolError` with a caller-safe message, so the model answers with
an apology and a next step rather than an internal error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from livekit.agents import Agent, RunContext, function_tool

from agent.clients import KnowledgeSearchClient, MeetingBookingClient
from agent.collector import SessionCollector
from functions.common.record import EndReason

INSTRUCTIONS_PATH = Path(__file__).with_name("instructions.md")

GREETING = (
    "Greet the caller in one short sentence, say you can answer questions about the trial, and ask how you can help."
)

SEARCH_UNAVAILABLE = (
    "The knowledge base could not be reached. Apologise briefly, answer only what you know for certain, "
    "and offer to have a colleague follow up by email."
)
BOOKING_UNAVAILABLE = (
    "The meeting could not be booked because the booking system is unavailable. Apologise briefly and tell "
    "the caller a colleague will email them to schedule the meeting."
)


def load_instructions(path: Path = INSTRUCTIONS_PATH) -> str:
    return path.read_text(encoding="utf-8")


class Assistant(Agent):
    def __init__(
        self,
        *,
        knowledge: KnowledgeSearchClient,
        booking: MeetingBookingClient,
        collector: SessionCollector,
        instructions: str | None = None,
    ) -> None:
        super().__init__(instructions=instructions if instructions is not None else load_instructions())
        self._knowledge = knowledge
        self._booking = booking
        self._collector = collector

    @function_tool
    async def unleash_search_knowledge(self, context: RunContext[Any], query: str, category: str) -> dict[str, Any]:
        """Search the product knowledge base before answering any question about the product.

        Args:
            query: What the caller wants to know, in a few keywords (e.g. "salesforce integration").
            category: One of: integrations, pricing, security, templates, general.
        """
        arguments = {"query": query, "category": category}
        call_id = context.function_call.call_id
        with self._collector.tool_call(
            call_id, "unleash_search_knowledge", arguments, graceful_message=SEARCH_UNAVAILABLE
        ) as outcome:
            result = await self._knowledge.search(query, category)
            outcome.summary = {"results_found": bool(result.hits), "total_results": result.total_results}
        return {
            "results": [{"title": hit.title, "snippet": hit.snippet} for hit in result.hits],
            "total_results": result.total_results,
        }

    @function_tool
    async def book_sales_meeting(
        self,
        context: RunContext[Any],
        customer_name: str,
        customer_email: str,
        company: str,
        preferred_time: str,
    ) -> dict[str, Any]:
        """Book a meeting with the sales team once the caller has given all four details.

        Args:
            customer_name: The caller's full name.
            customer_email: The caller's email address, confirmed by reading it back.
            company: The caller's company.
            preferred_time: When the caller would like the meeting, in their words (e.g. "tomorrow 2pm").
        """
        arguments = {
            "customer_name": customer_name,
            "customer_email": customer_email,
            "company": company,
            "preferred_time": preferred_time,
        }
        # The contact is what the caller gave, whether or not the booking system answers: sales still wants it.
        self._collector.set_contact(
            name=customer_name, email=customer_email, company=company, preferred_time=preferred_time
        )
        call_id = context.function_call.call_id
        with self._collector.tool_call(
            call_id, "book_sales_meeting", arguments, graceful_message=BOOKING_UNAVAILABLE
        ) as outcome:
            booking = await self._booking.book(
                customer_name=customer_name,
                customer_email=customer_email,
                company=company,
                preferred_time=preferred_time,
            )
            outcome.summary = {"booked": True, "meeting_id": booking.meeting_id}
        return {"booked": True, "meeting_id": booking.meeting_id, "scheduled_for": booking.scheduled_for}

    @function_tool
    async def end_call(self, context: RunContext[Any]) -> str:
        """End the call after the caller has said they are done. Say a short goodbye; nothing after it."""
        call_id = context.function_call.call_id
        with self._collector.tool_call(call_id, "end_call", {}, graceful_message="End the call politely."):
            self._collector.mark_end_reason(EndReason.AGENT_ENDED)
            # Close once the goodbye that answers this tool has played, so the caller hears it.
            context.speech_handle.add_done_callback(lambda _: context.session.shutdown(drain=True))
        return "The call will end after your goodbye. Say a short goodbye now."
