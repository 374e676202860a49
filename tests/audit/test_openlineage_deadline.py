"""OpenLineage delivery has a deadline (DESIGN.md, "Trust boundary": nothing lolpop calls out to can
block a tracker call longer than its documented bound).

The hostile endpoint here is real: a socket on 127.0.0.1 that reads each request whole, then
answers one byte of a status line every 1.5 s, forever. openlineage-python's per-read timeout
(5 s) never fires against it, so before the deadline the tracker's constructor (START) and
``stop()`` (COMPLETE) waited forever. Every blocking call runs on a thread joined with a generous
timeout (4x the documented bound): the assertion is that it returns at all, not how fast.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from lolpop.audit import openlineage as ol
from tests.audit.test_openlineage import Receiver, _states, free_port, validate

#: README "OpenLineage": the constructor and stop() each wait at most this long on the endpoint.
DOCUMENTED_BOUND = 10.0
JOIN = 4 * DOCUMENTED_BOUND


class Trickler:
    """An OpenLineage endpoint on 127.0.0.1 that reads each request (headers and body), records the
    event, then sends one byte of ``HTTP/1.1 200 OK`` and of a header line that never ends every
    ``interval`` seconds — until :meth:`close`. (Under the client's per-read timeout, so that
    timeout never fires.)"""

    def __init__(self, interval: float = 1.5) -> None:
        self.interval = interval
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)  # so the accept loop sees close() without a connection
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.events: list[dict[str, Any]] = []
        self.closed = threading.Event()
        self.conns: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536) or self._eof()
            head, body = data.split(b"\r\n\r\n", 1)
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            while len(body) < length:
                body += conn.recv(65536) or self._eof()
            self.events.append(json.loads(body))
            for byte in itertools.chain(b"HTTP/1.1 200 OK\r\n", itertools.repeat(ord("a"))):
                if self.closed.wait(self.interval):
                    return
                conn.sendall(bytes([byte]))
        except (OSError, EOFError):
            return  # the client gave up (its deadline): nothing more to send
        finally:
            conn.close()

    @staticmethod
    def _eof() -> bytes:
        raise EOFError

    def close(self) -> None:
        self.closed.set()
        self.listener.close()
        for thread in self.threads:
            thread.join(10)


@pytest.fixture
def trickler():
    server = Trickler()
    yield server
    server.close()


def returns(call: Callable[[], Any], what: str) -> Any:
    """``call()`` on a thread; its result — or a failure (never a hang) when it is still blocked
    after :data:`JOIN` seconds."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the test's thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(JOIN)
    assert not thread.is_alive(), f"{what} is still blocked after {JOIN:.0f} s on a trickling OpenLineage endpoint"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _wait_for(condition: Callable[[], bool], seconds: float = JOIN) -> bool:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize("backend", ["sqlite"])
def test_trickling_endpoint_blocks_neither_construction_nor_stop(make_tracker, client, trickler, caplog):
    with caplog.at_level(logging.WARNING, logger="lolpop.openlineage"):
        tracker = returns(lambda: make_tracker(openlineage_url=trickler.url), "the tracker's constructor")
        assert "could not send START" in caplog.text and "deadline" in caplog.text
        dv = tracker.create_resource("d", type="dataset_version")  # tracking goes on
        tracker.log_metadata(dv, "rows", 7)
        returns(tracker.stop, "stop()")
    run = client.get_run(tracker.run.info.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["d.rows"] == "7"
    # The kept START went first again at stop(), and was cut off again; COMPLETE never overtook it.
    assert [e["eventType"] for e in trickler.events] == ["START", "START"]
    for event in trickler.events:
        validate(event)
    assert "2 event(s) could not be delivered and are lost" in caplog.text
    assert [e.eventType.value for e in tracker._openlineage.pending] == ["START", "COMPLETE"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_after_a_trickling_endpoint_a_good_one_gets_the_kept_events_in_order(make_tracker, trickler):
    tracker = returns(lambda: make_tracker(openlineage_url=trickler.url), "the tracker's constructor")
    assert [e["eventType"] for e in trickler.events] == ["START"]
    trickler.close()
    good = Receiver(trickler.port)  # the endpoint restarted, healthy, at the same address
    try:
        returns(tracker.stop, "stop()")
        # At-least-once: the trickler read the START (it may have applied it); it is sent again.
        assert _states(good.events, tracker.run.info.run_id) == ["START", "COMPLETE"]
        assert not tracker._openlineage.pending
    finally:
        good.stop()


def test_a_cut_off_request_frees_its_thread_and_socket(request, caplog):
    trickler = Trickler(interval=0.4)  # a byte well within the emitter's 1 s per-read timeout
    request.addfinalizer(trickler.close)
    emitter = ol.Emitter(trickler.url, timeout=1)
    event = ol.workflow_event("START", "exp", uuid.uuid4().hex)
    with caplog.at_level(logging.WARNING, logger="lolpop.openlineage"):
        assert returns(lambda: emitter.emit(event), "emit()") is False
        assert [e.run.runId for e in emitter.pending] == [event.run.runId]  # kept for the next call
        # The abandoned request is cut at its deadline (its socket shut down), so its thread ends
        # instead of reading one byte every 1.5 s for ever.
        assert _wait_for(lambda: not any(t.name == "lolpop-openlineage" for t in threading.enumerate()))
        returns(emitter.close, "close()")
    assert "1 event(s) could not be delivered and are lost" in caplog.text


def test_one_call_is_bounded_and_an_event_left_in_flight_is_not_sent_twice():
    run_ids = [uuid.uuid4().hex for _ in range(8)]
    events = [ol.workflow_event("START", "exp", r) for r in run_ids]
    emitter = ol.Emitter(f"http://127.0.0.1:{free_port()}", timeout=3, call_deadline=1)
    for event in events:
        assert emitter.emit(event) is False  # endpoint down: all kept
    slow, good = Receiver(delay=0.3), Receiver()
    try:
        emitter.transport = ol.Emitter(slow.url).transport
        # 8 events answered 0.3 s each cannot all go within one call's 1 s: some stay kept.
        assert returns(emitter.retry, "retry()") is False
        assert emitter.pending
        emitter.transport = ol.Emitter(good.url).transport
        assert returns(emitter.retry, "retry()") is True
        # Each event reached exactly one endpoint, once, in order — also the one whose request was
        # still in flight when the first call's budget ran out (it was answered, so not resent).
        received = [e["run"]["runId"] for _, e in slow.events + good.events]
        assert received == [str(uuid.UUID(r)) for r in run_ids]
        assert slow.events and good.events
    finally:
        slow.stop()
        good.stop()


def test_close_counts_a_request_answered_after_its_call_stopped_waiting(caplog):
    slow = Receiver(delay=1)
    try:
        emitter = ol.Emitter(slow.url, timeout=10, call_deadline=0.2)
        event = ol.workflow_event("COMPLETE", "exp", uuid.uuid4().hex)
        with caplog.at_level(logging.WARNING, logger="lolpop.openlineage"):
            assert returns(lambda: emitter.emit(event), "emit()") is False  # the call gave up waiting
            assert "not sent within this call's 0.2 s" in caplog.text
            assert _wait_for(lambda: emitter._inflight.done.is_set())  # then the endpoint answered 2xx
            returns(emitter.close, "close()")
        assert "lost" not in caplog.text and not emitter.pending and emitter.sent == 1
        assert [e["eventType"] for _, e in slow.events] == ["COMPLETE"]
    finally:
        slow.stop()
