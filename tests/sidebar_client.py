"""The front end's part of the sidebar protocol, played from Python against a real kernel.

``SidebarClient`` wraps a jupyter_client ``BlockingKernelClient``: it opens comms to the
``carbon_magic`` target and sends comm messages exactly as the labextension does (and, for
the hostile tests, as it never would), runs code as JupyterLab does, and keeps every IOPub
message it reads with the time it arrived, so that tests and benchmarks/sidebar_messages.py
can look at pacing and sizes afterwards.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

TARGET = "carbon_magic"
REFRESH = {"request": "refresh", "version": 2}


@dataclass
class Received:
    """One IOPub message and when it arrived (time.monotonic)."""

    at: float
    message: dict

    @property
    def kind(self) -> str:
        return self.message["msg_type"]

    @property
    def content(self) -> dict:
        return self.message["content"]

    @property
    def data(self) -> Any:
        return self.content.get("data")

    @property
    def size_bytes(self) -> int:
        """The size of the comm data as JSON on the wire (what the front end parses)."""
        return len(json.dumps(self.data, separators=(",", ":")).encode())


@dataclass
class SidebarClient:
    client: Any
    log: list[Received] = field(default_factory=list)

    # -- sending -------------------------------------------------------------------------------
    def open_comm(self, data: Any = REFRESH, target: str = TARGET, buffers: list[bytes] | None = None) -> str:
        comm_id = uuid.uuid4().hex
        content = {"comm_id": comm_id, "target_name": target, "data": data}
        message = self.client.session.msg("comm_open", content)
        if buffers:
            message["buffers"] = buffers
        self.client.shell_channel.send(message)
        return comm_id

    def send(self, comm_id: str, data: Any, buffers: list[bytes] | None = None) -> None:
        message = self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        if buffers:
            message["buffers"] = buffers
        self.client.shell_channel.send(message)

    def close_comm(self, comm_id: str) -> None:
        self.client.shell_channel.send(self.client.session.msg("comm_close", {"comm_id": comm_id, "data": {}}))

    def submit(self, code: str) -> str:
        """Send ``code`` to run as JupyterLab does, without waiting; the request's msg_id."""
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}
        message = self.client.session.msg("execute_request", content)
        self.client.shell_channel.send(message)
        return message["header"]["msg_id"]

    def wait_idle(self, msg_id: str, timeout_s: float = 60.0) -> None:
        """Read IOPub until the kernel is idle after the request ``msg_id``."""
        self.pump(lambda r: r.kind == "status" and r.content["execution_state"] == "idle"
                  and r.message["parent_header"].get("msg_id") == msg_id, timeout_s)

    def execute(self, code: str, timeout_s: float = 60.0) -> list[Received]:
        """Run ``code`` as JupyterLab does and read IOPub until the kernel is idle again;
        the IOPub messages of that request."""
        start = len(self.log)
        msg_id = self.submit(code)
        self.wait_idle(msg_id, timeout_s)
        return [r for r in self.log[start:] if r.message["parent_header"].get("msg_id") == msg_id]

    def output(self, code: str) -> str:
        """What ``code`` printed (stdout and results as text); raises on an error in it."""
        parts = []
        for received in self.execute(code):
            if received.kind == "stream":
                parts.append(received.content["text"])
            elif received.kind == "execute_result":
                parts.append(received.content["data"].get("text/plain", ""))
            elif received.kind == "error":
                raise AssertionError(f"{received.content['ename']}: {received.content['evalue']}")
        return "".join(parts)

    # -- reading -------------------------------------------------------------------------------
    def pump(self, until: Callable[[Received], bool], timeout_s: float) -> Received:
        """Read IOPub until a message satisfies ``until`` (that message); TimeoutError otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching IOPub message within {timeout_s:g} s")
            try:
                message = self.client.get_iopub_msg(timeout=min(left, 1.0))
            except Exception:  # queue.Empty: nothing yet
                continue
            received = Received(time.monotonic(), message)
            self.log.append(received)
            if until(received):
                return received

    def wait_quiet(self, seconds: float) -> None:
        """Read IOPub for ``seconds`` (whatever arrives is logged)."""
        try:
            self.pump(lambda _: False, seconds)
        except TimeoutError:
            pass

    def comm_messages(self, comm_id: str, since: int = 0) -> list[Received]:
        """Messages the kernel sent on ``comm_id`` (comm_msg), from log index ``since``."""
        return [r for r in self.log[since:] if r.kind == "comm_msg" and r.content.get("comm_id") == comm_id]

    def closed(self, comm_id: str) -> Received | None:
        """The kernel's comm_close for ``comm_id``, if it came."""
        for received in self.log:
            if received.kind == "comm_close" and received.content.get("comm_id") == comm_id:
                return received
        return None

    def wait_comm(self, comm_id: str, timeout_s: float = 30.0) -> Received:
        """The next comm_msg or comm_close the kernel sends on ``comm_id``."""
        return self.pump(lambda r: r.kind in ("comm_msg", "comm_close") and r.content.get("comm_id") == comm_id,
                         timeout_s)
