"""Send lanes: a worker's replies and read receipts leave from threads of their own, so a turn never waits
on the Graph API. A round trip to Meta takes a hundred milliseconds or more; two of them a message (the read
receipt, the reply) in line with the turns would cap a worker at a few messages a second, whatever its CPU.

Each conversation has one lane, chosen by its id: its read receipts and replies leave in the order the turn
loop handed them over, so the receipt for a message goes before the reply to it. Across processes the
outbox's claim keeps the order (no reply is claimed while an earlier one to the same customer is unsettled).
A lane holds ids and receipts only: every reply is an outbox row before it is handed over, so nothing is lost
when a process dies with work in its lanes. A later sweep, here or in another worker, sends it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from functools import partial

from bot.channel.outbox import Outbox, ReadReceipt

log = logging.getLogger(__name__)


class SendLanes:
    def __init__(self, outbox: Outbox, lanes: int = 4) -> None:
        if lanes < 1:
            raise ValueError("at least one send lane")
        self._outbox = outbox
        self._queues: list[queue.SimpleQueue[Callable[[], object] | None]] = [
            queue.SimpleQueue() for _ in range(lanes)
        ]
        self._threads: list[threading.Thread] = []
        self._pending: set[int] = set()  # replies handed to a lane and not yet tried
        self._open = 0  # tasks handed over and not yet done
        self._done = threading.Condition()

    def start(self) -> None:
        """Start the lane threads (once: a second call changes nothing)."""
        if self._threads:
            return
        for index, lane in enumerate(self._queues):
            thread = threading.Thread(target=self._run, args=(lane,), name=f"wepos-send-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def receipt(self, receipt: ReadReceipt) -> None:
        """Mark the customer's message read (best effort), ahead of any reply to it."""
        self._hand_over(receipt.conversation_id, partial(self._outbox.acknowledge, receipt))

    def deliver(self, conversation_id: int, message_ids: list[int]) -> int:
        """Send these replies of one conversation, in this order; returns how many were not in a lane yet."""
        handed = 0
        for message_id in message_ids:
            with self._done:
                if message_id in self._pending:
                    continue
                self._pending.add(message_id)
            self._hand_over(conversation_id, partial(self._deliver, message_id))
            handed += 1
        return handed

    def sweep(self) -> int:
        """Hand every due reply that no lane holds yet to its conversation's lane: replies queued by agents
        or by other processes, retries whose backoff is over. Returns how many were handed over."""
        return sum(
            self.deliver(conversation_id, [message_id]) for message_id, conversation_id in self._outbox.due()
        )

    def wait_drained(self, timeout: float) -> bool:
        """Block until every lane is empty and idle; False if that took longer than `timeout`."""
        with self._done:
            return self._done.wait_for(lambda: self._open == 0, timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Send what the lanes hold (for up to `timeout`), then end their threads. Replies not sent by then
        stay queued in the outbox for the next worker. Nothing to do for lanes never started."""
        if not self._threads:
            return
        if not self.wait_drained(timeout):
            log.warning("send lanes stopped with work left in the outbox", extra={"open": self._open})
        for lane in self._queues:
            lane.put(None)
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()

    def _deliver(self, message_id: int) -> None:
        try:
            self._outbox.deliver(message_id)
        finally:
            with self._done:
                self._pending.discard(message_id)

    def _hand_over(self, conversation_id: int, task: Callable[[], object]) -> None:
        with self._done:
            self._open += 1
        self._queues[conversation_id % len(self._queues)].put(task)

    def _run(self, lane: queue.SimpleQueue[Callable[[], object] | None]) -> None:
        while (task := lane.get()) is not None:
            try:
                task()
            except Exception as exc:
                # The row keeps its state (a claimed reply is taken again after the lease): log and go on.
                log.error("send lane error", extra={"error": type(exc).__name__})
            finally:
                with self._done:
                    self._open -= 1
                    if self._open == 0:
                        self._done.notify_all()
