"""Sending: once per kernel after the first tracked cell, an extensive summary at exit, to a
real HTTP server on 127.0.0.1; nothing at all (not even a socket) when disabled."""

from __future__ import annotations

import json
import time

import pytest

from carbon_magic.runtime import current_runtime
from carbon_magic.telemetry import set_level, telemetry_command
from carbon_magic.core.problems import problems
from tests import telemetry_schema
from tests.servers import LocalServer, codecarbon_api, delay, status
from tests.telemetry_support import NoTerminal, SocketGuard, measured_config, telemetry_threads, tracked_cell


@pytest.fixture
def server(monkeypatch):
    with_server = LocalServer(default=codecarbon_api())
    monkeypatch.setenv("CODECARBON_TELEMETRY_ENDPOINT", f"{with_server.url}/telemetry")
    yield with_server
    with_server.close()


def payloads(server: LocalServer) -> list[dict]:
    return [request.json for request in server.to("/telemetry", "POST")]


def load(shell, **extra):
    config = measured_config(**extra)
    current_runtime().telemetry.on_extension_loaded(shell, config, stdin=NoTerminal())
    return config


def test_minimal_is_sent_once_after_the_first_tracked_cell(fresh_telemetry, shell, server, monkeypatch):
    monkeypatch.setenv("CODECARBON_TELEMETRY", "minimal")
    config = load(shell)
    assert payloads(server) == []
    for _ in range(3):
        current_runtime().telemetry.on_first_tracked_cell(tracked_cell(config))
    assert current_runtime().telemetry.on_kernel_exit() is True  # waits for the queued payload
    sent = payloads(server)
    assert len(sent) == 1
    assert telemetry_schema.problems(sent[0]) == []
    assert sent[0]["telemetry_level"] == "minimal"
    assert set(sent[0]) == set(telemetry_schema.MINIMAL)
    assert sent[0]["country_iso_code"] == "FRA"
    assert server.to("/telemetry")[0].headers["content-type"] == "application/json"
    assert [d.outcome for d in fresh_telemetry.sender.deliveries] == ["sent"]


def test_extensive_sends_first_cell_then_a_summary_at_kernel_exit(fresh_telemetry, shell, server, monkeypatch):
    monkeypatch.setenv("CODECARBON_TELEMETRY_LEVEL", "extensive")
    config = load(shell)
    current_runtime().telemetry.on_first_tracked_cell(tracked_cell(config, seconds=0.1))
    assert server.wait_for(lambda requests: len(requests) == 1, 10.0)
    current_runtime().telemetry.on_first_tracked_cell(tracked_cell(config, seconds=0.1))
    assert current_runtime().telemetry.on_kernel_exit() is True
    assert current_runtime().telemetry.on_kernel_exit() is True  # idempotent: nothing more is sent
    first, summary = payloads(server)
    for sent in (first, summary):
        assert telemetry_schema.problems(sent) == []
        assert sent["telemetry_level"] == "extensive"
    assert summary["duration_seconds"] > first["duration_seconds"]
    assert summary["energy_consumed_kwh"] > first["energy_consumed_kwh"] > 0
    assert summary["decorator_vs_context"] == "magic"
    assert summary["notebook_environment"] == "none" and summary["ide_used"] in ("none", "vscode", "pycharm")
    assert [d.what for d in fresh_telemetry.sender.deliveries] == ["first tracked cell", "kernel exit summary"]


def test_a_choice_made_after_the_first_cell_sends_then_once(fresh_telemetry, shell, server):
    config = load(shell)
    current_runtime().telemetry.on_first_tracked_cell(tracked_cell(config))
    assert current_runtime().telemetry.current_level().level == "disabled"
    assert fresh_telemetry.sender.queued == 0 and payloads(server) == []
    message = set_level(current_runtime().telemetry, "minimal")
    assert "minimal (Basic environment info only), stored in" in message
    current_runtime().telemetry.on_first_tracked_cell(tracked_cell(config))
    assert current_runtime().telemetry.on_kernel_exit() is True
    assert [p["telemetry_level"] for p in payloads(server)] == ["minimal"]


def test_debug_variable_prints_the_payload_instead_of_sending(fresh_telemetry, shell, server, monkeypatch, capfd):
    monkeypatch.setenv("CODECARBON_TELEMETRY", "minimal")
    monkeypatch.setenv("CODECARBON_TELEMETRY_DEBUG", "1")
    config = load(shell)
    current_runtime().telemetry.on_first_tracked_cell(tracked_cell(config))
    assert current_runtime().telemetry.on_kernel_exit() is True
    assert payloads(server) == []
    printed = capfd.readouterr().err
    assert "not sent to" in printed
    shown = json.loads(printed[printed.index("{"):printed.rindex("}") + 1])
    assert telemetry_schema.problems(shown) == []
    assert fresh_telemetry.sender.deliveries[0].outcome == "printed, not sent (debug)"


def test_a_failing_server_is_counted_never_raised(fresh_telemetry, shell, server, monkeypatch):
    monkeypatch.setenv("CODECARBON_TELEMETRY", "extensive")
    server.then("/telemetry", status(500, "boom"), status(422, '{"detail": "no"}'))
    config = load(shell)
    current_runtime().telemetry.on_first_tracked_cell(tracked_cell(config))
    assert current_runtime().telemetry.on_kernel_exit() is True
    assert len(payloads(server)) == 2
    failures = [p for p in problems.all() if p.where.startswith("telemetry")]
    assert {p.where for p in failures} == {"telemetry (first tracked cell)", "telemetry (kernel exit summary)"}
    assert all(p.error_type == "DeliveryError" for p in failures)
    assert [d.outcome for d in fresh_telemetry.sender.deliveries] == ["failed (DeliveryError)"] * 2


def test_kernel_exit_waits_at_most_two_seconds(fresh_telemetry, shell, server, monkeypatch):
    monkeypatch.setenv("CODECARBON_TELEMETRY", "extensive")
    server.then("/telemetry", delay(30.0), delay(30.0))
    config = load(shell)
    started = time.monotonic()
    current_runtime().telemetry.on_first_tracked_cell(tracked_cell(config, seconds=0.0))
    assert time.monotonic() - started < 1.0  # the cell never waits for the server
    started = time.monotonic()
    assert current_runtime().telemetry.on_kernel_exit() is False  # gave up waiting
    assert time.monotonic() - started < 2.5


def test_disabled_opens_no_socket_in_the_whole_flow(fresh_telemetry, shell, monkeypatch):
    monkeypatch.setenv("CODECARBON_TELEMETRY", "disabled")
    config = measured_config()
    tracker_records = [tracked_cell(config) for _ in range(2)]  # measuring opens no socket either
    threads_before = set(telemetry_threads())  # earlier tests' senders, idling out
    guard = SocketGuard(monkeypatch)
    current_runtime().telemetry.on_extension_loaded(shell, config, stdin=NoTerminal())
    for record in tracker_records:
        current_runtime().telemetry.on_first_tracked_cell(record)
    telemetry_command(current_runtime().telemetry, "", config)
    telemetry_command(current_runtime().telemetry, "preview", config)
    assert current_runtime().telemetry.on_kernel_exit() is True
    assert guard.attempts == []
    assert fresh_telemetry.sender.queued == 0  # so its thread never started
    assert set(telemetry_threads()) <= threads_before
    assert fresh_telemetry.sender.deliveries == []


def test_the_guard_does_catch_a_socket(fresh_telemetry, shell, monkeypatch):
    """The guard of the test above sees a send when one happens (it is not blind)."""
    monkeypatch.setenv("CODECARBON_TELEMETRY", "minimal")
    config = measured_config()
    record = tracked_cell(config)
    guard = SocketGuard(monkeypatch)
    current_runtime().telemetry.on_extension_loaded(shell, config, stdin=NoTerminal())
    current_runtime().telemetry.on_first_tracked_cell(record)
    current_runtime().telemetry.on_kernel_exit()
    assert guard.attempts != []


def test_do_not_track_beats_env_parameter_and_stored_choice(fresh_telemetry, shell, server, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("CODECARBON_TELEMETRY", "extensive")
    fresh_telemetry.consent_store().store_level("extensive", "command")
    config = measured_config(telemetry="extensive")
    current_runtime().telemetry.on_extension_loaded(shell, config, stdin=NoTerminal())
    assert current_runtime().telemetry.current_level(config).source == "DO_NOT_TRACK=1"
    current_runtime().telemetry.on_first_tracked_cell(tracked_cell(config))
    assert current_runtime().telemetry.on_kernel_exit() is True
    assert payloads(server) == [] and fresh_telemetry.sender.queued == 0
    assert "DO_NOT_TRACK=1 decides: telemetry is disabled" in set_level(current_runtime().telemetry, "minimal")


def test_unloading_drops_the_exit_summary(fresh_telemetry, shell, server, monkeypatch):
    monkeypatch.setenv("CODECARBON_TELEMETRY", "extensive")
    config = load(shell)
    current_runtime().telemetry.on_first_tracked_cell(tracked_cell(config))
    current_runtime().telemetry.on_extension_unloaded()
    current_runtime().at_exit()  # what the exit hook does: no summary once unloaded
    assert fresh_telemetry.sender.queued == 1
    assert server.wait_for(lambda requests: len(requests) == 1, 10.0)
    assert [p["telemetry_level"] for p in payloads(server)] == ["extensive"]


def test_cell_listener_fits_the_extension_session_interface(fresh_telemetry, shell, server, monkeypatch):
    monkeypatch.setenv("CODECARBON_TELEMETRY", "minimal")
    config = load(shell)
    record = tracked_cell(config)
    current_runtime().telemetry.cell_finished(object(), record)
    current_runtime().telemetry.cell_finished(object(), record)
    assert current_runtime().telemetry.on_kernel_exit() is True
    assert len(payloads(server)) == 1


def test_telemetry_faults_never_reach_the_extension(fresh_telemetry, shell, monkeypatch):
    from carbon_magic.telemetry import prompt

    def broken(*args, **kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(prompt, "how_to_ask", broken)
    resolution = current_runtime().telemetry.on_extension_loaded(shell, measured_config(), stdin=NoTerminal())
    assert resolution.level == "disabled"
    monkeypatch.setattr(fresh_telemetry, "current_level", broken)
    assert current_runtime().telemetry.on_first_tracked_cell(None) is None
    assert current_runtime().telemetry.on_kernel_exit() is False
    places = {p.where for p in problems.all()}
    assert {"telemetry on_extension_loaded", "telemetry first_tracked_cell", "telemetry on_kernel_exit"} <= places
