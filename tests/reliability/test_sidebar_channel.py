"""The sidebar's comm channel against hostile or vanished front ends (issue 15): what a front
end sends is never echoed back unbounded, and a front end that went away is let go even while
a long cell runs. A real python3 kernel, the front end played by ``SidebarClient``."""

from __future__ import annotations

import json

from tests.sidebar_support import channel_counts, load

HEADER_PADDING_BYTES = 2_000_000


def test_a_huge_message_header_is_never_echoed_back(sidebar, figures):
    """A front end whose comm_open carries a 2 MB message header (an extra field, a huge
    session and username) gets states whose parent header is a few hundred bytes, every second,
    not its 2 MB back."""
    figures.fault("comm_open whose header has a 2 MB field and 1 MB session / username values")
    load(sidebar)
    message = sidebar.client.session.msg("comm_open", {"comm_id": "huge-header", "target_name": "carbon_magic",
                                                       "data": {"request": "refresh", "version": 2}})
    message["header"].update(padding="x" * HEADER_PADDING_BYTES, session="s" * 1_000_000, username="u" * 1_000_000)
    sidebar.client.shell_channel.send(message)
    assert sidebar.wait_comm("huge-header").data["type"] == "hello"
    sidebar.wait_quiet(3.0)
    states = sidebar.comm_messages("huge-header")
    assert len(states) >= 2
    echoed = [len(json.dumps(r.message["parent_header"], default=str).encode()) for r in states]
    print("parent header bytes echoed per state message:", max(echoed))
    assert max(echoed) < 1_000, max(echoed)
    assert states[0].message["parent_header"]["msg_id"] == message["header"]["msg_id"]  # still routed
    assert channel_counts(sidebar)["peers"] == 2  # the announce comm and ours


def test_a_silent_peer_expires_even_while_a_cell_runs(sidebar, figures):
    """A front end that stopped answering (a closed tab) is let go after PEER_BUSY_EXPIRY_S of
    silence even while one long cell runs (running cells hold requests back, so they count only
    towards that longer limit); the cell gives its output."""
    figures.fault("a silent comm through an 8 s cell, PEER_BUSY_EXPIRY_S set to 3 s")
    load(sidebar)
    sidebar.output("import carbon_magic.ipython.sidebar.channel as _channel\n_channel.PEER_BUSY_EXPIRY_S = 3.0")
    silent = sidebar.open_comm()
    assert sidebar.wait_comm(silent).data["type"] == "hello"
    received = sidebar.execute("import time\ntime.sleep(8)\nprint('cell done')", timeout_s=60)
    output = "".join(r.content.get("text", "") for r in received if r.kind == "stream")
    figures.cell("cell done" in output, f"the long cell printed {output!r}")
    closed = sidebar.closed(silent)
    assert closed is not None and closed.data["reason"] == "expired"
    cell_end = received[-1].at
    assert closed.at < cell_end - 2.0  # let go while the cell ran, not after it
    assert channel_counts(sidebar)["peers"] == 0
