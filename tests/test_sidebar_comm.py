"""The sidebar's comm target in a real ipykernel, driven as the labextension drives it.

What the front end relies on (docs/sidebar-protocol.md): a kernel without the extension
closes its comm; ``%load_ext`` announces; a comm gets ``hello`` and then ``state`` at most
once a second, also while a long cell runs; totals match ``%carbon report``; unloading
says goodbye. And what a hostile front end must not get: anything it sends that is not
exactly a valid request changes nothing and runs nothing.
"""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("ipykernel")
pytest.importorskip("jupyter_client")

from carbon_magic._version import __version__  # noqa: E402

from .sidebar_client import REFRESH, SidebarClient  # noqa: E402
from .sidebar_support import channel_counts, load  # noqa: E402

MAX_MESSAGE_BYTES = 5_000
BUSY_CELL = "%%carbon --quiet\nimport time\nt0 = time.time()\nwhile time.time() - t0 < {seconds}:\n    sum(range(10_000))"


def assert_no_top_level_state(sidebar: SidebarClient, comm_ids: set[str]) -> None:
    """No message the kernel sent on the sidebar's comms ``comm_ids`` (comm_open, comm_msg,
    comm_close) has a top-level ``state`` key. nbclient (nbconvert, papermill), which has no
    sidebar, takes the ``state`` of any comm message for ipywidgets widget state and writes it
    into the executed notebook's ``metadata.widgets``; so the kernel's state is under ``kernel``."""
    sent = [r for r in sidebar.log
            if r.kind in ("comm_open", "comm_msg", "comm_close") and r.content.get("comm_id") in comm_ids]
    assert sent
    assert [r.data for r in sent if isinstance(r.data, dict) and "state" in r.data] == []


def test_a_kernel_without_the_extension_closes_the_sidebars_comm(sidebar):
    comm_id = sidebar.open_comm()
    received = sidebar.wait_comm(comm_id)
    assert received.kind == "comm_close"  # the front end reads this as "not loaded"


def test_loading_announces_then_hello_and_paced_states_while_a_long_cell_runs(sidebar):
    announce = None
    for received in sidebar.execute("%load_ext carbon_magic"):
        if received.kind == "comm_open" and received.content["target_name"] == "carbon_magic":
            announce = received
    assert announce is not None and announce.data == {"type": "announce", "version": 2}

    comm_id = sidebar.open_comm()
    hello = sidebar.wait_comm(comm_id)
    assert hello.kind == "comm_msg"
    assert hello.data["type"] == "hello" and hello.data["version"] == 2 and hello.data["seq"] == 1
    assert hello.data["package_version"] == __version__
    assert hello.data["min_interval_s"] == 1.0
    state = hello.data["kernel"]
    assert state["totals"]["count"] == 0 and state["cells"] == [] and state["running"] == []
    assert state["intensity"]["g_per_kwh"] > 0 and "France" in (state["location"] or "")

    start = len(sidebar.log)
    during = sidebar.execute(BUSY_CELL.format(seconds=5), timeout_s=60)  # this request's messages
    busy_at = next(r.at for r in during if r.kind == "status" and r.content["execution_state"] == "busy")
    idle_at = next(r.at for r in during if r.kind == "status" and r.content["execution_state"] == "idle")
    states = [r for r in sidebar.comm_messages(comm_id, start) if busy_at < r.at < idle_at]
    running = [r for r in states if r.data["kernel"]["running"]]
    assert len(running) >= 3, [r.data["kernel"]["running"] for r in states]
    energies = [r.data["kernel"]["totals"]["energy_wh"] for r in running]
    assert all(later > earlier for earlier, later in zip(energies, energies[1:])), energies
    assert running[-1].data["kernel"]["running"][0]["elapsed_s"] > 2
    window = running[-1].data["kernel"]["running"][0]  # nothing measured here: its energy so far has its band
    assert window["energy_low_wh"] < window["energy_wh"] < window["energy_high_wh"], window

    sidebar.wait_quiet(1.5)
    messages = sidebar.comm_messages(comm_id)
    made = [r.data["kernel"]["time"] for r in messages]  # the kernel's clock
    gaps = [later - earlier for earlier, later in zip(made, made[1:])]
    assert min(gaps) > 0.98, gaps  # at most one a second
    assert max(r.size_bytes for r in messages) < MAX_MESSAGE_BYTES
    seqs = [r.data["seq"] for r in messages]
    assert seqs == list(range(1, len(seqs) + 1))

    report = json.loads(sidebar.output(
        "import json\n_r = %carbon report\n"
        "print(json.dumps(_r[['energy_wh', 'co2_g', 'water_ml', 'water_total_ml', 'water_offsite_low_ml',"
        " 'water_offsite_high_ml', 'embodied_co2_g']].sum().to_dict()))"
    ))
    sidebar.wait_quiet(1.2)
    last = sidebar.comm_messages(comm_id)[-1].data["kernel"]
    assert last["totals"]["count"] == 1 and last["running"] == []
    assert math.isclose(last["totals"]["energy_wh"], report["energy_wh"], rel_tol=1e-9)
    assert math.isclose(last["totals"]["co2_g"], report["co2_g"], rel_tol=1e-9)
    assert last["cells"][0]["kind"] == "cell" and last["cells"][0]["status"] == "ok"
    # beyond CodeCarbon's figures: the grid's water and the embodied CO2e, in the totals and the cell
    footprint = last["totals"]["footprint"]
    assert math.isclose(footprint["water_total_ml"], report["water_total_ml"], rel_tol=1e-3)
    assert math.isclose(footprint["embodied_g"], report["embodied_co2_g"], rel_tol=1e-3)
    assert footprint["water_offsite_ml"] > 0 and footprint["water_onsite_ml"] == 0 and report["water_ml"] == 0
    assert footprint["embodied_low_g"] < footprint["embodied_g"] < footprint["embodied_high_g"]
    # the grid's water model's band, as %carbon report has it, around the off-site water
    assert footprint["water_offsite_low_ml"] < footprint["water_offsite_ml"] < footprint["water_offsite_high_ml"]
    for key in ("water_offsite_low_ml", "water_offsite_high_ml"):
        assert math.isclose(footprint[key], report[key], rel_tol=1e-3), key
        assert last["cells"][0]["footprint"][key] == pytest.approx(footprint[key], rel=1e-4), key
    assert last["cells"][0]["footprint"]["embodied_g"] == footprint["embodied_g"]
    cell = last["cells"][0]  # nothing measured here: the modelled band brackets the energy
    assert cell["energy_low_wh"] < 0.8 * cell["energy_wh"] < cell["energy_wh"] < cell["energy_high_wh"]
    assert_no_top_level_state(sidebar, {announce.content["comm_id"], comm_id})


def test_the_announce_comm_carries_hello_and_states_while_the_kernel_is_busy(sidebar):
    """A front end that heard the announce goes live at once: hello comes on the announce comm
    itself and states follow every second, while the kernel's main thread is still busy (as
    it is after a load, preparing the live panel), which a comm it opens would wait for."""
    sent = sidebar.execute("%load_ext carbon_magic\nimport time\ntime.sleep(4)")
    announce = next(r for r in sent if r.kind == "comm_open" and r.content["target_name"] == "carbon_magic")
    busy_until = sent[-1].at
    on_announce = sidebar.comm_messages(announce.content["comm_id"])
    during = [r for r in on_announce if r.at < busy_until]
    assert during and during[0].data["type"] == "hello" and during[0].data["seq"] == 1
    assert during[0].at - announce.at < 1.0, during[0].at - announce.at
    assert [r.data["type"] for r in during[1:]] == ["state"] * (len(during) - 1) and len(during) >= 3
    last = during[-1].data["kernel"]
    assert last["methods"]  # hardware discovery ended meanwhile
    assert last["power_w"] and last["measured"] == []  # no RAPL here: every component is modelled
    # what nbclient sees: the announce comm gets hello and states with no sidebar there
    assert_no_top_level_state(sidebar, {announce.content["comm_id"]})


def test_the_next_state_after_a_cell_says_what_the_cell_changed(sidebar):
    """%carbon on and a new problem reach the very next state message, though the once-a-second
    updates leave the cell's own flush nothing due (it ran right after a message)."""
    load(sidebar)
    comm_id = sidebar.open_comm()
    assert sidebar.wait_comm(comm_id).data["type"] == "hello"
    done = sidebar.execute("%carbon on\nfrom carbon_magic.core.problems import problems as _p\n"
                           "_p.note('test meter', OSError('sensor unplugged'))")
    idle_at = done[-1].at
    after = sidebar.pump(lambda r: r.kind == "comm_msg" and r.content.get("comm_id") == comm_id and r.at > idle_at,
                         10.0)
    state = after.data["kernel"]
    assert state["auto"] is True
    assert {"where": "test meter", "error_type": "OSError", "count": 1, "message": "sensor unplugged"} in state["problems"]
    status = "".join(r.content["data"]["text/plain"] for r in sidebar.execute("%carbon status") if r.kind == "display_data")
    assert "test meter: OSError x1: sensor unplugged" in status and "Auto mode (%carbon on):\n  on" in status


def test_the_totals_carry_the_band_of_the_modelled_records(sidebar):
    """Nothing is measured by a counter here: the kernel's totals carry the band of their
    records (the sums of %carbon report's energy_low_wh / energy_high_wh; CO2 with the same
    ratios, one intensity), so the sidebar's Energy and CO2 tiles can show it; each cell its
    CO2e's band (%carbon report's co2_low_g / co2_high_g); and the power of each component its band."""
    load(sidebar)
    comm_id = sidebar.open_comm()
    assert sidebar.wait_comm(comm_id).data["type"] == "hello"
    for _ in range(2):
        sidebar.execute("%%carbon --quiet\nsum(range(300_000))")
    report = json.loads(sidebar.output(
        "import json\n_r = %carbon report\n"
        "print(json.dumps(_r[['energy_wh', 'energy_low_wh', 'energy_high_wh', 'co2_g']].sum().to_dict()))"
    ))
    rows = json.loads(sidebar.output(
        "print(_r[['co2_g', 'co2_low_g', 'co2_high_g']].iloc[::-1].to_json(orient='records'))"))
    sidebar.wait_quiet(1.2)
    totals = sidebar.comm_messages(comm_id)[-1].data["kernel"]["totals"]
    # each cell row's CO2e carries its band too, as %carbon report has it (newest first)
    cells = sidebar.comm_messages(comm_id)[-1].data["kernel"]["cells"]
    assert len(cells) == len(rows) == 2
    for cell, row in zip(cells, rows):
        assert cell["co2_low_g"] < cell["co2_g"] < cell["co2_high_g"], cell
        for key in ("co2_g", "co2_low_g", "co2_high_g"):
            assert math.isclose(cell[key], row[key], rel_tol=1e-4), (key, cell, row)
    assert totals["count"] == 2
    assert math.isclose(totals["energy_low_wh"], report["energy_low_wh"], rel_tol=1e-9)
    assert math.isclose(totals["energy_high_wh"], report["energy_high_wh"], rel_tol=1e-9)
    assert totals["energy_low_wh"] < totals["energy_wh"] < totals["energy_high_wh"]
    for end in ("low", "high"):
        assert math.isclose(totals[f"co2_{end}_g"] / totals["co2_g"],
                            totals[f"energy_{end}_wh"] / totals["energy_wh"], rel_tol=1e-9)
    # and every modelled component's power carries its band (ratios around the figure)
    state = sidebar.comm_messages(comm_id)[-1].data["kernel"]
    assert state["measured"] == [] and set(state["bands"]) == set(state["power_w"]) >= {"cpu", "ram", "platform"}
    assert all(low < 1 < high for low, high in state["bands"].values()), state["bands"]


def test_unloading_says_goodbye_and_a_new_comm_is_refused(sidebar):
    load(sidebar)
    comm_id = sidebar.open_comm()
    assert sidebar.wait_comm(comm_id).data["type"] == "hello"
    sidebar.execute("%unload_ext carbon_magic")
    closed = sidebar.closed(comm_id) or sidebar.pump(
        lambda r: r.kind == "comm_close" and r.content.get("comm_id") == comm_id, 10)
    assert closed.data == {"type": "goodbye", "version": 2, "reason": "unloaded"}
    assert_no_top_level_state(sidebar, {comm_id})
    again = sidebar.open_comm()
    assert sidebar.wait_comm(again).kind == "comm_close"


HOSTILE = [
    None,
    "refresh",
    ["refresh", 1],
    42,
    {},
    {"request": "refresh"},
    {"version": 2},
    {"request": "refresh", "version": 1},  # the previous protocol version
    {"request": "refresh", "version": 3},
    {"request": "refresh", "version": "2"},
    {"request": "refresh", "version": True},
    {"request": "refresh", "version": 2.0},
    {"request": "Refresh", "version": 2},
    {"request": "load", "version": 2},  # loading is an execute_request the user's click sends
    {"request": "execute", "version": 2, "code": "open('pwned', 'w').write('x')"},
    {"request": "refresh", "version": 2, "code": "open('pwned', 'w').write('x')"},
    {"request": "__import__('os').system('touch pwned')", "version": 2},
    {"request": ["refresh"], "version": 2},
    {"request": {"__class__": "refresh"}, "version": 2},
    {"request": "refresh" * 200_000, "version": 2},
    {"request": "refresh", "version": 2, "nested": [[[[[[[[[[{}]]]]]]]]]]},
]


@pytest.mark.reliability(area="the comm", promise="Malformed or hostile messages from a frontend on the "
                         "sidebar comm (bad JSON shapes, unknown requests, code to run, huge or nested "
                         "payloads) change nothing and execute nothing.")
def test_hostile_requests_change_nothing_and_run_nothing(sidebar, isolated):
    load(sidebar)
    comm_id = sidebar.open_comm()
    assert sidebar.wait_comm(comm_id).data["type"] == "hello"
    before = channel_counts(sidebar)
    assert before["peers"] == 2  # the announce comm and ours

    for data in HOSTILE:
        sidebar.send(comm_id, data)
    sidebar.send(comm_id, REFRESH, buffers=[b"print('pwned')"])  # valid data, but buffers
    sidebar.send("not-a-comm-of-ours", REFRESH)
    refused_opens = [sidebar.open_comm(data) for data in HOSTILE[:6]]

    after = channel_counts(sidebar)  # runs after every message above (one shell queue)
    assert after["rejected"] - before["rejected"] == len(HOSTILE) + 1 + len(refused_opens)
    assert after["peers"] == before["peers"] and after["records"] == before["records"]
    assert not (isolated / "pwned").exists()
    assert sidebar.output("print('pwned' in globals(), '_pwned' in dir())").strip() == "False False"
    for refused in refused_opens:
        closed = sidebar.closed(refused) or sidebar.wait_comm(refused, 10)
        assert closed.kind == "comm_close"
        assert closed.data == {"type": "goodbye", "version": 2, "reason": "invalid request"}

    # the well-behaved comm still works, and nothing it was sent shows anywhere
    sidebar.send(comm_id, REFRESH)
    sidebar.wait_quiet(1.5)
    latest = sidebar.comm_messages(comm_id)[-1]
    assert latest.data["type"] == "state" and latest.data["kernel"]["problems"] == []
    assert "pwned" not in json.dumps(latest.data)
    assert all(r.size_bytes < MAX_MESSAGE_BYTES for r in sidebar.comm_messages(comm_id))


def test_loading_again_after_unloading_serves_new_comms(sidebar):
    load(sidebar)
    first = sidebar.open_comm()
    assert sidebar.wait_comm(first).data["type"] == "hello"
    sidebar.execute("%unload_ext carbon_magic")
    load(sidebar)
    second = sidebar.open_comm()
    hello = sidebar.wait_comm(second)
    assert hello.data["type"] == "hello" and hello.data["seq"] == 1
    assert channel_counts(sidebar)["peers"] == 2  # the new announce comm and ours


def test_a_silent_peer_expires_while_one_that_refreshes_stays(sidebar):
    load(sidebar)
    sidebar.output("import carbon_magic.ipython.sidebar.channel as _channel\n_channel.PEER_EXPIRY_S = 2.5")
    silent, talking = sidebar.open_comm(), sidebar.open_comm()
    for comm_id in (silent, talking):
        assert sidebar.wait_comm(comm_id).data["type"] == "hello"
    for _ in range(6):  # 6 s of idle kernel: the talking one says refresh every second
        sidebar.send(talking, REFRESH)
        sidebar.wait_quiet(1.0)
    closed = sidebar.closed(silent)
    assert closed is not None and closed.data == {"type": "goodbye", "version": 2, "reason": "expired"}
    assert sidebar.closed(talking) is None
    assert channel_counts(sidebar)["peers"] == 1


def test_at_most_max_peers_the_longest_silent_is_replaced(sidebar):
    from carbon_magic.ipython.sidebar.channel import MAX_PEERS

    load(sidebar)
    comms = [sidebar.open_comm() for _ in range(MAX_PEERS + 1)]
    sidebar.wait_quiet(1.5)
    closed = [comm_id for comm_id in comms if sidebar.closed(comm_id)]
    assert closed == [comms[0]]
    assert sidebar.closed(comms[0]).data["reason"] == "replaced"
    assert channel_counts(sidebar)["peers"] == MAX_PEERS


def test_a_tracked_cell_reads_the_configuration_for_the_sidebar_once(sidebar):
    """With a sidebar attached, the configuration's part of the state (location, intensity,
    methods: a pool look-up) is read once per tracked cell, after it (issue 16 point 10: the
    cost per cell), and the state still carries the intensity the latest cell used."""
    load(sidebar)
    comm_id = sidebar.open_comm()
    assert sidebar.wait_comm(comm_id).data["type"] == "hello"
    sidebar.output("%carbon on --quiet")
    counted = sidebar.output(
        "from carbon_magic.ipython.extension import get_sidebar as _g\n"
        "_calls = []\n_g()._refresh_meta = (lambda real: lambda: (_calls.append(1), real())[1])(_g()._refresh_meta)"
    )
    assert counted == ""
    for index in range(5):
        sidebar.output(f"x = {index}")
    # the wrapping cell's read (after it) and the five cells'; the printing cell's comes after the print
    assert sidebar.output("print(len(_calls))").strip() == "6"
    state = json.loads(sidebar.output(
        "import json as _j\n_s = _g().history.latest()\n"
        "print(_j.dumps([_s.intensity_g_per_kwh, _g()._meta['intensity']['g_per_kwh']]))"))
    assert state[0] > 0 and math.isclose(state[0], state[1], rel_tol=1e-3)
