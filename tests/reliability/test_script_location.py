"""A short script in the default (online) mode (issue 15): its record is built on the location
that IP geolocation finds, not on the world average while the lookup is still pending. A real
HTTP server on 127.0.0.1 stands in for the geolocation endpoint."""

from __future__ import annotations

import threading
import time

from carbon_magic import EmissionsTracker
from carbon_magic.core import tables
from carbon_magic.core.location.intensity import COUNTRY
from tests.servers import LocalServer, Reply

FRANCE = {"country_code3": "FRA", "region": "Ile-de-France", "latitude": "48.85", "longitude": "2.35"}
MEASURED = {"powercap_root": "/nonexistent", "force_cpu_power": 40.0, "force_ram_power": 10.0, "save_to_file": False}


def online(server: LocalServer, **params) -> dict:
    return {"geolocation_endpoint": server.url + "/geo", "cloud_metadata_url": server.url, **MEASURED, **params}


def test_a_short_script_waits_for_its_location_at_stop(isolated, figures):
    """A script that starts and stops a tracker at once, while IP geolocation takes 0.6 s to
    answer, gets a record with the geolocated country and its intensity (stop() waits for a
    pending location, at most location_timeout_secs + 0.5 s), not the world average."""
    figures.fault("IP geolocation answering after 0.6 s; start() then stop() at once")
    with LocalServer({("GET", "/geo"): Reply(body=FRANCE, delay_s=0.6)}) as server:
        tracker = EmissionsTracker(**online(server))
        tracker.start()
        tracker.stop()
    data = tracker.final_emissions_data
    france = tables.country_intensity("FRA").intensity_g_per_kwh
    assert data.country_iso_code == "FRA" and data.intensity_source.startswith(COUNTRY), data.intensity_source
    assert data.intensity_g_per_kwh == france


def test_a_location_that_never_comes_is_waited_for_a_bounded_time_and_said(isolated, figures):
    """When geolocation does not answer at all, stop() returns after at most
    location_timeout_secs + 0.5 s and the record says the location was not found (the reason is
    in intensity_source), never a silent world average."""
    figures.fault("IP geolocation holding its answer forever; location_timeout_secs = 1")
    gate = threading.Event()
    with LocalServer() as server:
        server.routes[("GET", "/geo")] = server.hold(Reply(body=FRANCE), gate)
        tracker = EmissionsTracker(**online(server, location_timeout_secs=1.0))
        tracker.start()
        started = time.monotonic()
        tracker.stop()
        waited_s = time.monotonic() - started
        gate.set()
    data = tracker.final_emissions_data
    assert waited_s < 1.0 + 0.5 + 1.0, waited_s  # the bound, with room for a loaded machine
    assert data.country_iso_code is None and data.intensity_g_per_kwh == 475.0
    assert "IP geolocation failed" in data.intensity_source or "pending" in data.intensity_source, \
        data.intensity_source
