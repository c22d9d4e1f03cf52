"""Session records of whole calls for the insights tests: the example record with a transcript, tool calls and a
contact of the test's own (written as the agent writes them: turn indexes in order, tool calls with summaries)."""

from __future__ import annotations

from typing import Any

from functions.common.record import SessionRecord
from tests.samples import example_record

CALLER = "user"
AGENT = "assistant"
STARTED = "2026-11-20T15:04:10Z"
NO_CONTACT: dict[str, Any] | None = None


def search(query: str, category: str, *, found: int | None = 2, error: str | None = None) -> dict[str, Any]:
    """A knowledge search as the collector records it: `found` results, or failed with `error`."""
    call: dict[str, Any] = {
        "name": "unleash_search_knowledge",
        "arguments": {"query": query, "category": category},
        "started_at": STARTED,
        "duration_ms": 300.0,
        "success": error is None,
    }
    if error is not None:
        call["error"] = error
    else:
        call["result_summary"] = {"results_found": bool(found), "total_results": found}
    return call


def booking(*, error: str | None = None, email: str = "dana.lee@example.com") -> dict[str, Any]:
    call: dict[str, Any] = {
        "name": "book_sales_meeting",
        "arguments": {
            "customer_name": "Dana Lee",
            "customer_email": email,
            "company": "Acme Legal",
            "preferred_time": "tomorrow 2pm",
        },
        "started_at": STARTED,
        "duration_ms": 500.0,
        "success": error is None,
    }
    if error is not None:
        call["error"] = error
    else:
        call["result_summary"] = {"booked": True, "meeting_id": "mtg-1"}
    return call


def call_record(
    turns: list[tuple[str, str]],
    *,
    tools: list[dict[str, Any]] | None = None,
    contact: dict[str, Any] | None = NO_CONTACT,
    mode: str = "redacted",
    **changes: Any,
) -> SessionRecord:
    """The example record with these turns ((role, text) in order), tool calls and contact."""
    transcript = [{"index": index, "role": role, "text": text} for index, (role, text) in enumerate(turns)]
    return example_record(
        transcript=transcript if mode != "off" else [],
        transcript_mode=mode,
        user_turns=sum(1 for role, _ in turns if role == CALLER),
        tool_calls=tools or [],
        contact=contact,
        signals=changes.pop("signals", {}),
        **changes,
    )


ANGRY_WITH_COMPETITOR = [
    (CALLER, "Hi. We're four people at an insurance brokerage and we're on the trial."),
    (AGENT, "Welcome! How is it going so far?"),
    (CALLER, "Honestly, badly. Your pricing is ridiculous, DocuSign costs us half of this and it just works."),
    (AGENT, "I'm sorry to hear that. Team plans are priced per seat with volume tiers."),
    (CALLER, "That's worse. The editor is clunky and I'm annoyed we wasted a week. I'll stick with DocuSign."),
]
HAPPY_BOOKING = [
    (CALLER, "Hi! We love the trial, the templates are great and it saved us hours already."),
    (AGENT, "Wonderful! Would a call with our team help you pick a plan?"),
    (CALLER, "Yes please, that would be fantastic. I'm Dana Lee, dana.lee@example.com, Acme Legal. Tomorrow at 2."),
    (AGENT, "You're booked for tomorrow at 2pm. Anything else?"),
    (CALLER, "No, thank you so much, this was really helpful!"),
]
UNANSWERED = [
    (CALLER, "Do you sign a BAA for HIPAA?"),
    (AGENT, "I'm sorry, I couldn't find that. A colleague will get back to you."),
    (CALLER, "What about storing documents in our own Azure tenant?"),
    (AGENT, "I'm not sure, I don't have information on that. Someone will follow up with you."),
    (CALLER, "And can we set our own retention period?"),
    (AGENT, "I don't know, I'm afraid. I'll have a colleague get back to you on that too."),
    (CALLER, "Okay."),
]
UNANSWERED_TOOLS = [
    search("hipaa business associate agreement", "security", error="knowledge search timed out (simulated)"),
    search("azure tenant storage", "general", found=0),
]
