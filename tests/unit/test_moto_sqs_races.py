"""local.aws.stack's lock around moto's DeleteMessage: a delete that lands while a receive iterates the queue's
in-flight set must wait for it. Interleaved deterministically: the receive pauses inside that iteration (on a message
of the set) until the delete has returned, or 0.3 s have passed, which is what happens when the delete has to wait
for the receive's lock."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import Message, SQSBackend, sqs_backends

from local.aws.stack import patch_moto_internals

REGION = "us-east-1"


@pytest.fixture
def backend() -> Iterator[SQSBackend]:
    patch_moto_internals()
    with mock_aws():
        yield sqs_backends[DEFAULT_ACCOUNT_ID][REGION]


def test_a_delete_during_a_receive_waits_and_the_receive_succeeds(backend: SQSBackend) -> None:
    backend.create_queue("sessions")
    for body in ("first", "second", "third"):
        backend.send_message("sessions", body)
    in_flight = backend.receive_message("sessions", 2, 0, 60)  # two in flight, "third" still visible
    queue = backend.get_queue("sessions")
    in_iteration = threading.Event()
    deleted = threading.Event()

    class PausingMessage(Message):
        @property  # type: ignore[override]
        def group_id(self) -> None:  # read by the receive for every in-flight message (its FIFO group check)
            if not in_iteration.is_set():
                in_iteration.set()
                deleted.wait(timeout=0.3)
            return None

    for message in queue.pending_messages:
        message.__class__ = PausingMessage

    def delete_during_receive() -> None:
        assert in_iteration.wait(timeout=5)
        backend.delete_message("sessions", in_flight[0].receipt_handle)
        deleted.set()

    deleter = threading.Thread(target=delete_during_receive)
    deleter.start()
    received = backend.receive_message("sessions", 10, 0, 60)  # "Set changed size during iteration" without the lock
    deleter.join(timeout=5)

    assert [message.body for message in received] == ["third"]
    assert sorted(message.body for message in queue._messages) == sorted(["third", in_flight[1].body])
