"""The location service's sources one by one, against real HTTP servers on 127.0.0.1 and
faked tz database files: the HTTP client, IP geolocation and its disk cache, cloud metadata
probes, Electricity Maps and the time-zone country."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from carbon_magic.core import disk_cache
from carbon_magic.core.location import cloud, electricitymaps, geolocation
from carbon_magic.core.http import FetchError, fetch
from carbon_magic.core.location.intensity import Location
from carbon_magic.core.location.timezone_country import local_zone_name, zone_country_iso2

from .fakes.tzdata import write_tz_database
from .servers import LocalServer, Reply

GEOJS = {"country": "France", "country_code": "FR", "country_code3": "FRA", "region": "Ile-de-France",
         "city": "Paris", "latitude": "48.8582", "longitude": "2.3387", "timezone": "Europe/Paris"}


# --- the HTTP client --------------------------------------------------------------------------


@pytest.fixture
def server():
    with LocalServer() as running:
        yield running


def test_fetch_answers_json_and_sends_headers(server):
    server.routes[("GET", "/x")] = Reply(body={"a": 1}, headers={"X-Kind": "test"})
    answer = fetch(server.url + "/x?k=v", timeout_s=2, headers={"Accept": "application/json"})
    assert answer.json("x") == {"a": 1} and answer.headers["x-kind"] == "test"
    assert server.requests[0].query == {"k": ["v"]} and server.requests[0].headers["accept"] == "application/json"


@pytest.mark.parametrize("status", [400, 401, 404, 429, 500, 503])
def test_fetch_error_statuses(server, status):
    server.routes[("GET", "/x")] = Reply(status, {"error": "no"})
    with pytest.raises(FetchError, match=f"HTTP {status}") as caught:
        fetch(server.url + "/x", timeout_s=2)
    assert caught.value.status == status


def test_fetch_timeout_and_slow_but_in_time(server):
    server.routes[("GET", "/slow")] = Reply(body={"ok": True}, delay_s=1.0)
    server.routes[("GET", "/late")] = Reply(body={"ok": True}, delay_s=0.2)
    with pytest.raises(FetchError, match="no answer within 0.3 s"):
        fetch(server.url + "/slow", timeout_s=0.3)
    assert fetch(server.url + "/late", timeout_s=2).json("late") == {"ok": True}


def test_fetch_refused_and_garbage(server, closed_loopback_url):
    with pytest.raises(FetchError) as caught:
        fetch(closed_loopback_url + "/x", timeout_s=1)
    assert caught.value.status is None and "refused" in str(caught.value).lower()
    server.routes[("GET", "/garbage")] = Reply(body=b"{not json")
    with pytest.raises(FetchError, match="not JSON"):
        fetch(server.url + "/garbage", timeout_s=2).json("garbage")


def test_fetch_errors_never_show_query_strings_or_headers(server):
    server.routes[("GET", "/x")] = Reply(500)
    with pytest.raises(FetchError) as caught:
        fetch(server.url + "/x?token=SECRET1", timeout_s=2, headers={"auth-token": "SECRET2"})
    assert "SECRET" not in str(caught.value) and f"{server.url}/x" in str(caught.value)


# --- IP geolocation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (GEOJS, geolocation.GeoAnswer("FRA", "Ile-de-France", 48.8582, 2.3387)),
        ({"ip": "x", "country": "US", "region": "California", "loc": "37.4,-122.1"},  # ipinfo
         geolocation.GeoAnswer("USA", "California", 37.4, -122.1)),
        ({"status": "success", "countryCode": "CA", "regionName": "Quebec", "lat": 45.5, "lon": -73.6},  # ip-api
         geolocation.GeoAnswer("CAN", "Quebec", 45.5, -73.6)),
        ({"country_code": "DE", "latitude": "nan", "longitude": "999"}, geolocation.GeoAnswer("DEU")),
        ({"country_code3": "XXX", "country": "Japan"}, geolocation.GeoAnswer("JPN")),
    ],
)
def test_geolocation_answers_of_several_services(answer, expected):
    assert geolocation.parse_answer(answer) == expected


@pytest.mark.parametrize("answer", [{"country": "Atlantis"}, {"city": "Paris"}, ["FRA"], "FRA"])
def test_geolocation_answer_without_country(answer):
    with pytest.raises(ValueError):
        geolocation.parse_answer(answer)


def test_geolocation_request_saves_a_day_long_cache(server):
    server.routes[("GET", "/geo")] = Reply(body=GEOJS)
    endpoint = server.url + "/geo"
    assert geolocation.cached_answer(endpoint) is None
    answer = geolocation.request_answer(endpoint, timeout_s=2, now=1_000_000.0)
    assert answer.country_iso3 == "FRA"
    assert (Path(os.environ["HOME"]) / ".cache" / "carbon_magic" / "geolocation.json").is_file()
    assert geolocation.cached_answer(endpoint, now=1_000_000.0 + 23.9 * 3600) == answer
    assert geolocation.cached_answer(endpoint, now=1_000_000.0 + 24.1 * 3600) is None
    assert geolocation.cached_answer(endpoint, now=1_000_000.0 - 60) is None  # clock set back
    assert geolocation.cached_answer(server.url + "/other", now=1_000_000.0) is None  # per endpoint


def test_geolocation_errors_garbage_and_no_country(server):
    server.routes[("GET", "/garbage")] = Reply(body="<html>rate limited</html>")
    server.routes[("GET", "/nowhere")] = Reply(body={"ip": "1.2.3.4"})
    with pytest.raises(FetchError, match="not JSON"):
        geolocation.request_answer(server.url + "/garbage", timeout_s=2)
    with pytest.raises(FetchError, match="no known country"):
        geolocation.request_answer(server.url + "/nowhere", timeout_s=2)
    assert geolocation.cached_answer(server.url + "/nowhere") is None


def test_disk_cache_honours_xdg_and_survives_a_corrupt_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    disk_cache.write_entry("geolocation", "k", {"country_iso3": "FRA"}, now=100.0)
    assert (tmp_path / "xdg" / "carbon_magic" / "geolocation.json").is_file()
    assert disk_cache.read_entry("geolocation", "k", 10.0, now=105.0) == ({"country_iso3": "FRA"}, 100.0)
    assert disk_cache.read_entry("geolocation", "k", 10.0, now=111.0) is None
    (tmp_path / "xdg" / "carbon_magic" / "geolocation.json").write_text("{broken")
    assert disk_cache.read_entry("geolocation", "k", 10.0, now=105.0) is None
    disk_cache.write_entry("geolocation", "k2", 1, now=100.0)  # a corrupt file is replaced
    assert disk_cache.read_entry("geolocation", "k2", 10.0, now=100.0) == (1, 100.0)


def test_a_cached_entry_of_the_wrong_shape_is_ignored():
    disk_cache.write_entry("geolocation", "http://x/geo", {"country": "FRA"})
    assert geolocation.cached_answer("http://x/geo") is None
    disk_cache.write_entry("geolocation", "http://x/geo", {"country_iso3": "NOPE"})
    assert geolocation.cached_answer("http://x/geo") is None


# --- cloud metadata ----------------------------------------------------------------------------

AWS_DOCUMENT = {"region": "eu-west-3", "instanceType": "m5.large", "availabilityZone": "eu-west-3a"}


def test_aws_imdsv2_sends_the_token(server):
    server.routes[("PUT", cloud.AWS_TOKEN_PATH)] = Reply(body="TOKEN-1")

    def document(request):
        ok = request.headers.get("x-aws-ec2-metadata-token") == "TOKEN-1"
        return Reply(body=AWS_DOCUMENT) if ok else Reply(401)

    server.routes[("GET", cloud.AWS_DOCUMENT_PATH)] = document
    assert cloud.probe_aws(server.url, 2) == cloud.CloudFound("aws", "eu-west-3")
    assert server.requests[0].headers["x-aws-ec2-metadata-token-ttl-seconds"] == "60"


def test_aws_imdsv1_without_token(server):
    server.routes[("PUT", cloud.AWS_TOKEN_PATH)] = Reply(405)
    server.routes[("GET", cloud.AWS_DOCUMENT_PATH)] = Reply(body=AWS_DOCUMENT)
    assert cloud.probe_aws(server.url, 2) == cloud.CloudFound("aws", "eu-west-3")


def test_azure_needs_its_header(server):
    def compute(request):
        if request.headers.get("metadata") != "true" or request.query.get("api-version") != ["2021-02-01"]:
            return Reply(400)
        return Reply(body={"location": "WestEurope", "vmSize": "Standard_D2s_v3"})

    server.routes[("GET", "/metadata/instance/compute")] = compute
    assert cloud.probe_azure(server.url, 2) == cloud.CloudFound("azure", "westeurope")


def test_gcp_zone_and_its_answer_header(server):
    server.routes[("GET", cloud.GCP_ZONE_PATH)] = Reply(
        body="projects/123456/zones/europe-west1-b", headers={"Metadata-Flavor": "Google"})
    assert cloud.probe_gcp(server.url, 2) == cloud.CloudFound("gcp", "europe-west1")
    server.routes[("GET", cloud.GCP_ZONE_PATH)] = Reply(body="projects/1/zones/europe-west1-b")  # an impostor
    assert cloud.probe_gcp(server.url, 2) is None


def test_detect_finds_the_one_cloud_that_answers_without_waiting_for_slow_probes(server):
    release, aws_answered = threading.Event(), threading.Event()

    def hanging_aws(request):
        release.wait(10)
        aws_answered.set()
        return Reply(404)

    server.routes[("PUT", cloud.AWS_TOKEN_PATH)] = hanging_aws
    server.routes[("GET", cloud.GCP_ZONE_PATH)] = Reply(
        body="projects/1/zones/us-central1-f", headers={"Metadata-Flavor": "Google"})
    try:
        assert cloud.detect(server.url + "/", 20.0) == cloud.CloudFound("gcp", "us-central1")
        assert not aws_answered.is_set()  # detect returned while the AWS probe still waited
    finally:
        release.set()


@pytest.mark.parametrize(
    "reply", [Reply(404), Reply(500), Reply(body=b"garbage"), Reply(body={"region": 7}), Reply(body="x", delay_s=1.0)]
)
def test_detect_off_a_cloud(server, reply):
    for route in [("PUT", cloud.AWS_TOKEN_PATH), ("GET", cloud.AWS_DOCUMENT_PATH),
                  ("GET", "/metadata/instance/compute"), ("GET", cloud.GCP_ZONE_PATH)]:
        server.routes[route] = reply
    assert cloud.detect(server.url, 0.3) is None


def test_detect_with_nothing_listening(closed_loopback_url):
    assert cloud.detect(closed_loopback_url, 1.0) is None


# --- Electricity Maps ----------------------------------------------------------------------------

EM_PATH = "/v3/carbon-intensity/latest"
EM_ANSWER = {"zone": "FR", "carbonIntensity": 38, "datetime": "2025-03-01T10:00:00.000Z",
             "updatedAt": "2025-03-01T09:51:00.000Z", "emissionFactorType": "lifecycle", "isEstimated": True}


def test_electricitymaps_latest_with_the_token_in_its_header(server):
    def latest(request):
        if request.headers.get("auth-token") != "TOKEN":
            return Reply(401, {"message": "bad token"})
        return Reply(body={**EM_ANSWER, "zone": request.query["zone"][0]})

    server.routes[("GET", EM_PATH)] = latest
    value = electricitymaps.fetch_latest(server.url + EM_PATH, "TOKEN", {"zone": "FR"}, 2)
    assert (value.g_per_kwh, value.zone, value.datetime) == (38.0, "FR", "2025-03-01T10:00:00.000Z")
    assert "TOKEN" not in server.requests[0].query.get("zone", [""])[0]
    with pytest.raises(FetchError, match="token refused \\(HTTP 401\\)") as caught:
        electricitymaps.fetch_latest(server.url + EM_PATH, "WRONG", {"zone": "FR"}, 2)
    assert "WRONG" not in str(caught.value)


@pytest.mark.parametrize(
    "reply",
    [Reply(body=b"oops"), Reply(body={"zone": "FR"}), Reply(body={"carbonIntensity": -3}),
     Reply(body={"carbonIntensity": "38"}), Reply(503), Reply(body=EM_ANSWER, delay_s=1.0)],
)
def test_electricitymaps_bad_answers(server, reply):
    server.routes[("GET", EM_PATH)] = reply
    with pytest.raises(FetchError):
        electricitymaps.fetch_latest(server.url + EM_PATH, "T", {"zone": "FR"}, 0.3)


def test_electricitymaps_query_order():
    assert electricitymaps.query_for("fr", Location("DEU", latitude=1.0, longitude=2.0)) == {"zone": "FR"}
    assert electricitymaps.query_for(None, Location("DEU", latitude=48.85, longitude=2.35)) == {
        "lat": "48.8500", "lon": "2.3500"}
    assert electricitymaps.query_for(None, Location("DEU")) == {"zone": "DE"}
    assert electricitymaps.query_for(None, Location()) is None


# --- the time-zone country -------------------------------------------------------------------------


@pytest.fixture
def tz_dir(tmp_path) -> Path:
    return write_tz_database(tmp_path / "zoneinfo")


@pytest.mark.parametrize(
    ("tz", "zone"),
    [("Europe/Paris", "Europe/Paris"), (":Europe/Paris", "Europe/Paris"), ("US/Eastern", "US/Eastern"),
     ("CET-1CEST,M3.5.0,M10.5.0/3", None), ("Mars/Olympus", None), ("", None), ("../../etc/passwd", None)],
)
def test_local_zone_from_tz(tz_dir, tmp_path, tz, zone):
    assert local_zone_name({"TZ": tz}, tmp_path / "none", tmp_path / "none", [tz_dir]) == zone


def test_local_zone_from_an_absolute_tz_path(tz_dir):
    assert local_zone_name({"TZ": str(tz_dir / "Europe" / "Paris")}, data_dirs=[tz_dir]) == "Europe/Paris"


def test_local_zone_from_localtime_link_then_timezone_file(tz_dir, tmp_path):
    localtime = tmp_path / "localtime"
    localtime.symlink_to(tz_dir / "America" / "New_York")
    timezone_file = tmp_path / "timezone"
    timezone_file.write_text("Europe/Amsterdam\n")
    assert local_zone_name({}, localtime, timezone_file, [tz_dir]) == "America/New_York"
    assert local_zone_name({}, tmp_path / "no-link", timezone_file, [tz_dir]) == "Europe/Amsterdam"
    assert local_zone_name({}, tmp_path / "no-link", tmp_path / "no-file", [tz_dir]) is None


@pytest.mark.parametrize(
    ("zone", "iso2"),
    [("Europe/Paris", "FR"), ("Europe/Amsterdam", "NL"),  # zone.tab: the zone's own country
     ("Europe/Brussels", "BE"), ("Asia/Dubai", "AE"),  # zone1970.tab: the first country listed
     ("US/Eastern", "US"),  # a link: its target's country
     ("Etc/UTC", None), ("Nowhere/Else", None)],
)
def test_zone_country(tz_dir, zone, iso2):
    assert zone_country_iso2(zone, [tz_dir]) == iso2


def test_the_system_tz_database_is_found():
    """The real tz database of this machine (system or tzdata package) maps a zone."""
    assert zone_country_iso2("Europe/Paris") == "FR"
    assert zone_country_iso2("Asia/Tokyo") == "JP"


def test_cache_files_hold_no_token(server):
    server.routes[("GET", EM_PATH)] = Reply(body=EM_ANSWER)
    value = electricitymaps.fetch_latest(server.url + EM_PATH, "SECRET-TOKEN", {"zone": "FR"}, 2)
    electricitymaps.save_value(electricitymaps.query_key(server.url + EM_PATH, {"zone": "FR"}), value)
    text = (disk_cache.cache_dir() / "electricitymaps.json").read_text()
    assert "SECRET-TOKEN" not in text and json.loads(text)
