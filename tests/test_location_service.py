"""The process-wide location service end to end: trackers against real HTTP servers on
127.0.0.1 standing in for IP geolocation, cloud metadata and Electricity Maps.

Servers that must answer "later" hold their answer until the test sets a gate (an Event), so
what a record says before and after an answer arrives is tested without timing assumptions.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time

import pytest

from carbon_magic import EmissionsTracker, OfflineEmissionsTracker, track_emissions
from carbon_magic.core import disk_cache, tables
from carbon_magic.core.location import LocationService, board, live, timezone_country
from carbon_magic.core.config import ConfigError, resolve_config
from carbon_magic.core.location.intensity import CLOUD, COUNTRY, LIVE, REGION, WORLD, Intensity, IntensitySignal
from carbon_magic.core.problems import problems
from carbon_magic.core.record import RunInfo, build_record
from carbon_magic.runtime import current_runtime, reset_runtime

from .fakes.tzdata import write_tz_database
from .servers import LocalServer, Reply

MEASURED = {"powercap_root": "/nonexistent", "force_cpu_power": 40.0, "force_ram_power": 10.0, "save_to_file": False}
GEO_PATH, EM_PATH = "/geo", "/v3/carbon-intensity/latest"
FRANCE = {"country_code3": "FRA", "region": "Ile-de-France", "latitude": "48.85", "longitude": "2.35"}
GCP_ZONE = "/computeMetadata/v1/instance/zone"


@pytest.fixture
def server():
    with LocalServer() as running:
        yield running


@pytest.fixture
def tz_paris(tmp_path, monkeypatch):
    """The system time zone is Europe/Paris (faked tz database)."""
    folder = write_tz_database(tmp_path / "zoneinfo")
    monkeypatch.setattr(timezone_country, "tz_data_dirs", lambda: [folder])
    monkeypatch.setenv("TZ", "Europe/Paris")


def online(server, **params):
    """Parameters pointing every online endpoint at ``server``."""
    return {"geolocation_endpoint": server.url + GEO_PATH, "cloud_metadata_url": server.url,
            "electricitymaps_endpoint": server.url + EM_PATH, **MEASURED, **params}


def run_window(tracker, seconds=0.05):
    tracker.start()
    time.sleep(seconds)
    tracker.stop()
    return tracker.final_emissions_data


def service():
    """The location service of the current runtime (the one trackers are given)."""
    return current_runtime().location


def location_problems():
    """The problems the location service noted (other parts' threads may note their own)."""
    ours = ("IP geolocation", "Electricity Maps", "time zone lookup", "cloud detection", "location service")
    return [p for p in problems.all() if p.where.startswith(ours)]


def wait_for(condition, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


# --- pending, then corrected --------------------------------------------------------------------


def test_tracker_starts_before_geolocation_answers_and_its_record_follows_the_answer(server):
    gate = threading.Event()
    server.routes[("GET", GEO_PATH)] = server.hold(Reply(body=FRANCE), gate)
    tracker = EmissionsTracker(**online(server))
    tracker.start()
    time.sleep(0.05)
    before = tracker.current()  # built while geolocation is pending
    assert before.intensity_g_per_kwh == 475.0 and before.country_iso_code is None
    assert "IP geolocation pending" in before.intensity_source
    gate.set()
    assert service().wait_resolved(5)
    data = tracker.stop() and tracker.final_emissions_data
    france = tables.country_intensity("FRA").intensity_g_per_kwh
    assert (data.country_iso_code, data.region, data.latitude, data.longitude) == ("FRA", "Ile-de-France", 48.85, 2.35)
    assert data.intensity_g_per_kwh == france and data.intensity_source.startswith(COUNTRY)
    assert f"IP geolocation ({server.url}{GEO_PATH})" in data.intensity_source
    assert data.emissions == pytest.approx(data.energy_consumed * france / 1000, rel=1e-12)  # the whole window
    assert location_problems() == []


def test_start_background_resolution_returns_at_once(server):
    gate = threading.Event()
    server.routes[("GET", GEO_PATH)] = server.hold(Reply(body=FRANCE), gate)
    server.routes[("GET", GCP_ZONE)] = server.hold(Reply(404), gate)
    config = resolve_config(online(server))
    service().start_background_resolution(config)
    try:
        wait_for(lambda: server.count(GEO_PATH) == 1)  # the request is out and held
        place, intensity = service().current(config)
        assert intensity.kind == WORLD and place.country_iso_code is None
        assert any("pending" in line for line in service().status())
    finally:
        gate.set()
    assert service().wait_resolved(5)
    assert service().current(config)[0].country_iso_code == "FRA"


def test_time_zone_guess_while_geolocation_is_pending(server, tz_paris):
    gate = threading.Event()
    server.routes[("GET", GEO_PATH)] = server.hold(Reply(body={"country_code": "DE"}), gate)
    config = resolve_config(online(server))
    service().start_background_resolution(config)
    try:
        wait_for(lambda: service().current(config)[0].country_iso_code == "FRA")
        place, intensity = service().current(config)
        assert intensity.kind == COUNTRY
        assert "country guessed from the time zone Europe/Paris (IP geolocation pending)" in intensity.source
    finally:
        gate.set()
    assert service().wait_resolved(5)
    assert service().current(config)[0].country_iso_code == "DEU"


# --- geolocation failures ------------------------------------------------------------------------

FAILURES = {
    "HTTP 500": Reply(500),
    "HTTP 404": Reply(404),
    "HTTP 429": Reply(429),
    "garbage JSON": Reply(body=b"\x00{garbage"),
    "no country": Reply(body={"ip": "203.0.113.7"}),
    "too slow": Reply(body=FRANCE, delay_s=1.0),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_geolocation_failure_falls_back_to_the_time_zone(server, tz_paris, failure):
    server.routes[("GET", GEO_PATH)] = FAILURES[failure]
    tracker = EmissionsTracker(**online(server, location_timeout_secs=0.3))
    assert service().wait_resolved(5)
    data = run_window(tracker)
    assert data.country_iso_code == "FRA" and data.intensity_source.startswith(COUNTRY)
    assert "country guessed from the time zone Europe/Paris (IP geolocation failed (" in data.intensity_source
    assert [p.where for p in location_problems()] == ["IP geolocation"]


def test_no_geolocation_and_no_zone_country_gives_the_world_average(server):
    server.routes[("GET", GEO_PATH)] = Reply(503)
    tracker = EmissionsTracker(**online(server))  # TZ=UTC (conftest)
    assert service().wait_resolved(5)
    data = run_window(tracker)
    assert data.intensity_g_per_kwh == 475.0 and data.country_iso_code is None
    assert "location unknown" in data.intensity_source and "HTTP 503" in data.intensity_source
    assert "time zone UTC names no country" in data.intensity_source


def test_geolocation_is_cached_on_disk_for_a_day(server):
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    config = resolve_config(online(server))
    service().start_background_resolution(config)
    assert service().wait_resolved(5) and server.count(GEO_PATH) == 1
    reset_runtime()  # as a new process would start
    service().start_background_resolution(config)
    assert service().wait_resolved(5) and server.count(GEO_PATH) == 1
    assert "cached" in service().current(config)[0].found_by
    cache = disk_cache.cache_dir() / "geolocation.json"
    entries = json.loads(cache.read_text())
    for entry in entries.values():
        entry["saved_at"] -= 24 * 3600 + 1  # a day and a second old
    cache.write_text(json.dumps(entries))
    reset_runtime()
    service().start_background_resolution(config)
    assert service().wait_resolved(5) and server.count(GEO_PATH) == 2
    assert "cached" not in service().current(config)[0].found_by


# --- cloud detection -----------------------------------------------------------------------------


def test_a_detected_gcp_region_beats_geolocation(server):
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    server.routes[("GET", GCP_ZONE)] = Reply(body="projects/7/zones/europe-west1-c", headers={"Metadata-Flavor": "Google"})
    tracker = EmissionsTracker(**online(server))
    assert service().wait_resolved(5)
    data = run_window(tracker)
    assert (data.cloud_provider, data.cloud_region, data.country_iso_code, data.on_cloud) == ("gcp", "europe-west1", "BEL", "Y")
    assert data.intensity_g_per_kwh == tables.gcp_region_intensity("europe-west1").intensity_g_per_kwh
    assert data.intensity_source.startswith(CLOUD) and "cloud metadata: gcp europe-west1" in data.intensity_source
    assert data.latitude is None  # the geolocated coordinates are France's, not Belgium's


def test_a_detected_aws_region_resolves_through_its_state_and_keeps_coordinates(server):
    server.routes[("GET", GEO_PATH)] = Reply(body={"country_code": "US", "region": "Virginia", "latitude": 39.0, "longitude": -77.5})
    server.routes[("PUT", "/latest/api/token")] = Reply(body="T")
    server.routes[("GET", "/latest/dynamic/instance-identity/document")] = Reply(body={"region": "us-east-1"})
    tracker = EmissionsTracker(**online(server))
    assert service().wait_resolved(5)
    data = run_window(tracker)
    assert (data.cloud_provider, data.region, data.latitude) == ("aws", "virginia", 39.0)
    assert data.intensity_source.startswith(REGION) and "us-east-1 (US East (N. Virginia)) has no intensity table" in data.intensity_source
    assert data.intensity_g_per_kwh == tables.region_intensity("USA", "virginia").intensity_g_per_kwh


def test_a_cloud_region_the_tables_do_not_know_keeps_the_geolocated_country(server):
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    server.routes[("GET", "/metadata/instance/compute")] = Reply(body={"location": "marsnorth"})
    tracker = EmissionsTracker(**online(server))
    assert service().wait_resolved(5)
    data = run_window(tracker)
    assert (data.country_iso_code, data.cloud_provider, data.cloud_region) == ("FRA", "azure", "marsnorth")
    assert "azure marsnorth is not in the tables" in data.intensity_source


def test_cloud_detection_runs_once_per_process(server):
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    for _ in range(3):
        run_window(EmissionsTracker(**online(server)), 0.01)
    assert service().wait_resolved(5)
    for _ in range(3):
        run_window(EmissionsTracker(**online(server, project_name="other")), 0.01)
    assert server.count(GCP_ZONE) == 1 and server.count("/metadata/instance/compute") == 1
    assert server.count(GEO_PATH) == 1


def test_location_parameters_online_start_no_resolution(server):
    data = run_window(EmissionsTracker(**online(server, region="SE3")))
    assert data.country_iso_code == "SWE" and data.intensity_source.startswith(REGION)
    assert service().status() == [] and server.count() == 0


# --- live intensity (Electricity Maps) ----------------------------------------------------------------

EM = {"zone": "FR", "carbonIntensity": 250, "datetime": "2025-03-01T10:00:00.000Z"}


def live_params(server, **params):
    return online(server, **{"electricitymaps_api_token": "SECRET-TOKEN", "country_2letter_iso_code": "FR", **params})


def test_live_intensity_is_used_and_asked_once_per_zone(server):
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    server.routes[("GET", EM_PATH)] = Reply(body=EM)
    trackers = [EmissionsTracker(**live_params(server)) for _ in range(3)]
    assert service().wait_resolved(5)
    records = [run_window(tracker, 0.02) for tracker in trackers]
    assert server.count(EM_PATH) == 1
    request = [r for r in server.requests if r.path == EM_PATH][0]
    assert request.query == {"zone": ["FR"]} and request.headers["auth-token"] == "SECRET-TOKEN"
    for data in records:
        assert data.intensity_g_per_kwh == pytest.approx(250.0, rel=1e-12)
        assert data.intensity_source.startswith("live API: Electricity Maps zone FR at 2025-03-01T10:00:00.000Z")
        assert data.emissions == pytest.approx(data.energy_consumed * 0.25, rel=1e-9)
    reset_runtime()  # a new process within 15 minutes reads the value other processes fetched
    data = run_window(EmissionsTracker(**live_params(server)))
    assert service().wait_resolved(5) and server.count(EM_PATH) == 1


def test_the_deprecated_co2_signal_token_still_works(server):
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    server.routes[("GET", EM_PATH)] = Reply(body=EM)
    tracker = EmissionsTracker(**online(server, co2_signal_api_token="OLD-TOKEN", country_2letter_iso_code="fr"))
    assert service().wait_resolved(5)
    assert run_window(tracker).intensity_source.startswith("live API")
    [request] = [r for r in server.requests if r.path == EM_PATH]
    assert request.headers["auth-token"] == "OLD-TOKEN" and request.query == {"zone": ["FR"]}


def test_feeds_with_different_tokens_share_one_request_per_zone(server):
    gate = threading.Event()
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    server.routes[("GET", EM_PATH)] = server.hold(Reply(body=EM), gate)
    first = resolve_config(live_params(server))
    second = resolve_config(live_params(server, electricitymaps_api_token="OTHER-TOKEN"))
    service().start_background_resolution(first)
    wait_for(lambda: server.count(EM_PATH) == 1)  # the first feed's request is out
    service().start_background_resolution(second)
    gate.set()
    assert service().wait_resolved(5)
    assert service().current(first)[1].g_per_kwh == service().current(second)[1].g_per_kwh == 250.0
    assert server.count(EM_PATH) == 1


def test_energy_used_before_the_first_live_value_is_weighed_by_it(server):
    gate = threading.Event()
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    server.routes[("GET", EM_PATH)] = server.hold(Reply(body=EM), gate)
    tracker = EmissionsTracker(**live_params(server))
    tracker.start()
    time.sleep(0.05)
    pending = tracker.current()
    assert "live intensity pending" in pending.intensity_source
    assert pending.intensity_g_per_kwh == pytest.approx(tables.country_intensity("FRA").intensity_g_per_kwh, rel=1e-12)
    gate.set()
    assert service().wait_resolved(5)
    tracker.stop()
    data = tracker.final_emissions_data
    assert data.intensity_source.startswith("live API")
    assert data.intensity_g_per_kwh == pytest.approx(250.0, rel=1e-12)


def test_zone_from_the_geolocated_coordinates(server):
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    server.routes[("GET", EM_PATH)] = Reply(body=EM)
    EmissionsTracker(**online(server, electricitymaps_api_token="T"))
    assert service().wait_resolved(5)
    [request] = [r for r in server.requests if r.path == EM_PATH]
    assert request.query == {"lat": ["48.8500"], "lon": ["2.3500"]}


def test_failed_live_request_keeps_the_last_good_value_then_the_table(server, monkeypatch):
    answers = iter([Reply(body=EM), Reply(503), Reply(503)])
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    server.routes[("GET", EM_PATH)] = lambda request: next(answers)
    monkeypatch.setattr(live, "LIVE_REFRESH_S", 0.2)
    config = resolve_config(live_params(server))
    service().start_background_resolution(config)
    assert service().wait_resolved(5)
    assert service().current(config)[1].g_per_kwh == 250.0
    time.sleep(0.25)
    service().current(config)  # a record is built after the refresh is due: the feed wakes
    wait_for(lambda: server.count(EM_PATH) == 2)
    wait_for(lambda: "request failed" in service().current(config)[1].source)
    intensity = service().current(config)[1]
    assert (intensity.kind, intensity.g_per_kwh) == (LIVE, 250.0)
    assert "HTTP 503" in intensity.source and "last good value kept" in intensity.source
    monkeypatch.setattr(live, "LIVE_MAX_AGE_S", 0.0)  # the last good value is now too old
    time.sleep(0.25)
    service().current(config)
    wait_for(lambda: server.count(EM_PATH) == 3)
    wait_for(lambda: service().current(config)[1].kind != LIVE)
    intensity = service().current(config)[1]
    assert intensity.kind == COUNTRY and intensity.g_per_kwh == tables.country_intensity("FRA").intensity_g_per_kwh
    assert "live intensity request failed" in intensity.source and intensity.signal is not None


@pytest.mark.parametrize("failure", ["HTTP 500", "garbage JSON", "too slow"])
def test_a_first_live_failure_gives_the_table_value(server, failure):
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    server.routes[("GET", EM_PATH)] = FAILURES[failure]
    tracker = EmissionsTracker(**live_params(server, location_timeout_secs=0.3))
    assert service().wait_resolved(5)
    data = run_window(tracker)
    assert data.intensity_source.startswith(COUNTRY) and "live intensity request failed" in data.intensity_source
    assert data.intensity_g_per_kwh == pytest.approx(tables.country_intensity("FRA").intensity_g_per_kwh, rel=1e-12)


def test_a_refused_token_is_a_problem_that_never_shows_the_token(server, caplog):
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    server.routes[("GET", EM_PATH)] = Reply(401, {"message": "invalid auth-token"})
    with caplog.at_level(logging.DEBUG, logger="carbon_magic"):
        tracker = EmissionsTracker(**live_params(server))
        assert service().wait_resolved(5)
        data = run_window(tracker)
    [problem] = location_problems()
    assert problem.where == "Electricity Maps" and "token refused (HTTP 401)" in problem.message
    shown = " ".join([caplog.text, problem.message, data.intensity_source, *service().status(), repr(tracker)])
    assert "SECRET-TOKEN" not in shown


def test_a_gcp_region_needs_no_live_request(server):
    server.routes[("GET", GCP_ZONE)] = Reply(body="projects/7/zones/europe-west1-c", headers={"Metadata-Flavor": "Google"})
    server.routes[("GET", EM_PATH)] = Reply(body=EM)
    tracker = EmissionsTracker(**live_params(server))
    assert service().wait_resolved(5)
    data = run_window(tracker)
    assert data.intensity_source.startswith(CLOUD) and server.count(EM_PATH) == 0


def test_forced_intensity_needs_no_live_request(server):
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    tracker = EmissionsTracker(**live_params(server, force_carbon_intensity_g_co2e_kwh=10.0))
    assert service().wait_resolved(5)
    data = run_window(tracker)
    assert data.intensity_g_per_kwh == 10.0 and data.country_iso_code == "FRA"
    assert server.count(EM_PATH) == 0


# --- the ledger weighs a time-varying intensity -----------------------------------------------------


def test_the_ledger_weighs_each_moment_by_the_value_in_effect():
    tracker = OfflineEmissionsTracker(country_iso_code="FRA", **MEASURED)
    sampler = tracker.sampler
    signal = IntensitySignal("test-signal")
    sampler.weigh_by(signal)
    readings = [sampler.read()]
    for value in (None, 100.0, 300.0):  # each reading weighs the energy since the previous one
        signal.g_per_kwh = value
        time.sleep(0.03)
        readings.append(sampler.read())
    window = tracker.window(readings[0], readings[-1])
    energies = [tracker.window(a, b).energy_j() for a, b in zip(readings, readings[1:])]
    by_component = window.average_intensity_g_per_kwh("test-signal", pending_g_per_kwh=200.0)
    for component in tracker.components:
        parts = [e[component] for e in energies]
        expected = (parts[0] * 200.0 + parts[1] * 100.0 + parts[2] * 300.0) / sum(parts)
        assert by_component[component] == pytest.approx(expected, rel=1e-9)
    run = RunInfo("p", "r", None, "machine", 1.5, 0.0, tracker._location,
                  Intensity(200.0, "test", LIVE, signal), sampler.facts, ())
    record = build_record(window, run)
    grams = sum(window.energy_j()[c] / 3.6e6 * 1.5 * by_component[c] for c in tracker.components)
    assert record.emissions == pytest.approx(grams / 1000, rel=1e-12)
    assert 100.0 < record.intensity_g_per_kwh < 300.0
    assert record.intensity_g_per_kwh == pytest.approx(grams / record.energy_consumed, rel=1e-12)
    before = tracker.window(readings[0], readings[0])
    assert before.average_intensity_g_per_kwh("never-weighed", 1.0) is None


# --- offline mode opens no socket --------------------------------------------------------------------


def test_offline_mode_opens_no_socket(monkeypatch, tmp_path, caplog):
    assert service().wait_resolved(5)
    wait_for(lambda: not [t for t in threading.enumerate() if t.name.startswith(board.THREAD_NAME)])
    opened = []

    def refuse(*args, **kwargs):
        opened.append(threading.current_thread().name)
        raise AssertionError("offline mode opened a socket")

    for name in ("socket", "create_connection", "getaddrinfo", "socketpair"):
        monkeypatch.setattr(socket, name, refuse)
    everywhere = {"output_dir": str(tmp_path), "save_to_file": True, "measure_power_secs": 0.01,
                  **{k: v for k, v in MEASURED.items() if k != "save_to_file"}}
    trackers = [
        OfflineEmissionsTracker(country_iso_code="FR", **everywhere),
        OfflineEmissionsTracker(cloud_provider="aws", cloud_region="eu-west-3", **everywhere),
        EmissionsTracker(offline=True, **everywhere),
        EmissionsTracker(country_iso_code="DEU", electricitymaps_api_token="T", **everywhere),
    ]
    for tracker in trackers:
        tracker.start()
        tracker.start_task("t")
        time.sleep(0.03)
        tracker.flush()
        tracker.stop_task()
        tracker.stop()

    @track_emissions(offline=True, country_iso_code="FRA", **everywhere)
    def work():
        return 1

    assert work() == 1
    assert opened == []
    assert service().status() == []
    assert not [t for t in threading.enumerate() if t.name.startswith(board.THREAD_NAME)]
    assert "electricitymaps_api_token is not used in offline mode" in caplog.text
    assert [r.country_iso_code for r in (t.final_emissions_data for t in trackers)] == ["FRA", "FRA", None, "DEU"]


def test_bad_location_parameters_fail_at_start_background_resolution():
    with pytest.raises(ConfigError, match="closest"):
        service().start_background_resolution(resolve_config({"country_iso_code": "Germny"}))


# --- status and fork ---------------------------------------------------------------------------------


def test_status_says_what_was_found(server):
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    server.routes[("GET", EM_PATH)] = Reply(body=EM)
    service().start_background_resolution(resolve_config(live_params(server)))
    assert service().wait_resolved(5)
    lines = service().status()
    assert lines[0] == f"location (done): IP geolocation ({server.url}{GEO_PATH})"
    assert lines[1] == "live intensity: 250 g/kWh, Electricity Maps zone FR at 2025-03-01T10:00:00.000Z"


def in_child(function) -> bytes:
    """Run ``function`` in a forked child; what it returns (bytes) comes back."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, function())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as stream:
        answer = stream.read()
    os.waitpid(pid, 0)
    return answer


def test_a_forked_child_keeps_a_finished_location(server):
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    config = resolve_config(online(server))
    service().start_background_resolution(config)
    assert service().wait_resolved(5)
    answer = in_child(lambda: service().current(config)[0].country_iso_code.encode())
    assert answer == b"FRA" and server.count(GEO_PATH) == 1


def test_a_forked_child_restarts_a_pending_resolution(server):
    gate = threading.Event()
    server.routes[("GET", GEO_PATH)] = server.hold(Reply(body=FRANCE), gate)
    config = resolve_config(online(server))
    service().start_background_resolution(config)
    wait_for(lambda: server.count(GEO_PATH) == 1)

    def child() -> bytes:
        service().current(config)  # the parent's threads are gone: this starts the child's own
        return str(service().wait_resolved(5) and service().current(config)[0].country_iso_code).encode()

    opener = threading.Timer(0.5, gate.set)
    opener.start()
    assert in_child(child) == b"FRA" and server.count(GEO_PATH) == 2
    opener.join()


# --- one service per runtime: its state is its own ----------------------------------------------------


def test_a_closed_service_publishes_nothing_and_the_new_runtime_starts_afresh(server):
    gate = threading.Event()
    server.routes[("GET", GEO_PATH)] = server.hold(Reply(body=FRANCE), gate)
    config = resolve_config(online(server))
    old = service()
    old.start_background_resolution(config)
    wait_for(lambda: server.count(GEO_PATH) == 1)
    fresh = reset_runtime().location  # closes the old runtime's service
    gate.set()
    assert old.wait_resolved(5)  # its thread got the answer after the close...
    place = old.current(config)[0]
    assert place.country_iso_code is None and "pending" in place.found_by  # ...and published nothing
    assert fresh is not old and fresh.status() == []
    fresh.start_background_resolution(config)
    assert fresh.wait_resolved(5)
    assert fresh.current(config)[0].country_iso_code == "FRA"


def test_services_share_no_state_and_key_by_parameter_values(server):
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    server.routes[("GET", EM_PATH)] = Reply(body=EM)
    first, second = LocationService(lambda: False), LocationService(lambda: False)
    try:
        for name in ("a", "b"):  # another project, the same location parameters: one resolution, one feed
            first.start_background_resolution(resolve_config(live_params(server, project_name=name)))
        assert first.wait_resolved(5) and len(first.status()) == 2
        assert second.status() == [] and service().status() == []
        second.start_background_resolution(resolve_config(live_params(server)))
        assert second.wait_resolved(5) and len(second.status()) == 2
        assert server.count(EM_PATH) == 1  # the second read the first's value from the disk cache
    finally:
        first.close()
        second.close()


def test_an_idle_live_feed_asks_the_given_callable_whether_samplers_run(server, monkeypatch):
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    server.routes[("GET", EM_PATH)] = Reply(body=EM)
    monkeypatch.setattr(live, "LIVE_REFRESH_S", 0.05)
    monkeypatch.setattr(live, "IDLE_CHECK_S", 0.02)
    asked, running = threading.Event(), threading.Event()

    def samplers_running() -> bool:
        asked.set()
        return running.is_set()

    location = LocationService(samplers_running)
    try:
        location.start_background_resolution(resolve_config(live_params(server)))
        assert location.wait_resolved(5)
        assert asked.wait(5)  # due, not used since: the feed asks whether samplers run
        disk_cache.cache_dir().joinpath("electricitymaps.json").unlink()  # no other process's value
        assert server.count(EM_PATH) == 1  # no sampler running: no refresh
        running.set()
        wait_for(lambda: server.count(EM_PATH) >= 2)
    finally:
        location.close()


def test_live_intensity_keeps_refreshing_while_a_window_is_open(server, monkeypatch):
    """The runtime's location service asks the runtime's samplers whether a window is open:
    while one is (its sampler thread runs), a live feed refreshes though no record is built."""
    server.routes[("GET", GEO_PATH)] = Reply(body=FRANCE)
    server.routes[("GET", EM_PATH)] = Reply(body=EM)
    monkeypatch.setattr(live, "LIVE_REFRESH_S", 0.2)
    tracker = EmissionsTracker(**live_params(server))
    tracker.start()
    assert tracker.sampler.running
    assert server.wait_for(lambda requests: sum(r.path == EM_PATH for r in requests) >= 4)
    tracker.stop()
