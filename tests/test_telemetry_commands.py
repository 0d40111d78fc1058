"""``%carbon telemetry ...`` as the plain functions the magic calls."""

from __future__ import annotations

import json

import pytest

from carbon_magic import telemetry
from carbon_magic.runtime import current_runtime
from carbon_magic.telemetry.consent import consent_path
from tests import telemetry_schema
from tests.telemetry_support import measured_config


def json_of(text: str) -> dict:
    return json.loads(text[text.index("{"):])


def test_status_says_the_tier_where_it_came_from_and_what_each_sends(fresh_telemetry):
    text = telemetry.telemetry_command(current_runtime().telemetry, "", measured_config())
    assert text.splitlines()[0] == "carbon_magic telemetry: disabled (from default: no tier chosen yet)"
    assert "  > disabled   Telemetry disabled (nothing is sent)" in text
    assert "    minimal    Basic environment info only (private: maintainers only)" in text
    assert "    extensive  Full data + emissions shared publicly (public: leaderboard)" in text
    assert "Sent by this kernel: nothing." in text
    assert "telemetry_endpoint" in text and "DO_NOT_TRACK=1" in text


def test_status_follows_the_sources(fresh_telemetry, monkeypatch):
    config = measured_config(telemetry="minimal")
    assert "minimal (from the telemetry parameter (argument))" in telemetry.status(current_runtime().telemetry, config)
    monkeypatch.setenv("CODECARBON_TELEMETRY_LEVEL", "extensive")
    assert "extensive (from environment variable CODECARBON_TELEMETRY_LEVEL)" in telemetry.status(current_runtime().telemetry, config)
    monkeypatch.setenv("CODECARBON_TELEMETRY_DEBUG", "yes")
    assert "CODECARBON_TELEMETRY_DEBUG is set: payloads are printed, not sent." in telemetry.status(current_runtime().telemetry, config)


def test_endpoint_default_and_parameter_without_credentials(fresh_telemetry, monkeypatch):
    monkeypatch.delenv("CODECARBON_TELEMETRY_ENDPOINT")
    config = measured_config(api_endpoint="https://api.example.org/")
    assert "Where: https://api.example.org/telemetry " in telemetry.status(current_runtime().telemetry, config)
    config = measured_config(telemetry_endpoint="https://bob:s3cret-pass@t.example.org/in?token=abcdef")
    text = telemetry.status(current_runtime().telemetry, config)
    assert "t.example.org/in (parameter" in text and "s3cret-pass" not in text and "abcdef" not in text


def test_setting_a_tier_stores_it(fresh_telemetry):
    message = telemetry.telemetry_command(current_runtime().telemetry, "EXTENSIVE")
    assert message.startswith("carbon_magic telemetry: extensive (Full data + emissions shared publicly), stored in")
    assert json.loads(consent_path().read_text())["level"] == "extensive"
    assert "(from your stored choice" in telemetry.status(current_runtime().telemetry, measured_config())


def test_preview_shows_the_exact_json_of_the_tier_in_effect(fresh_telemetry, monkeypatch):
    monkeypatch.setenv("CODECARBON_TELEMETRY", "minimal")
    text = telemetry.telemetry_command(current_runtime().telemetry, "preview", measured_config())
    assert text.startswith("The exact JSON sent to http://127.0.0.1:")
    payload = json_of(text)
    assert telemetry_schema.problems(payload) == [] and payload["telemetry_level"] == "minimal"


def test_preview_of_another_tier_and_of_disabled(fresh_telemetry):
    config = measured_config()
    disabled = telemetry.telemetry_command(current_runtime().telemetry, "preview", config)
    assert "nothing is sent" in disabled and "{" not in disabled
    text = telemetry.telemetry_command(current_runtime().telemetry, "preview extensive", config)
    assert "What the extensive tier would send" in text and "telemetry is disabled" in text
    payload = json_of(text)
    assert telemetry_schema.problems(payload) == [] and "host_machine_hash" not in payload


def test_host_hash_opt_in(fresh_telemetry):
    assert "host_machine_hash allowed" in telemetry.telemetry_command(current_runtime().telemetry, "host-hash on")
    assert "allowed;" in telemetry.status(current_runtime().telemetry, measured_config())
    payload = json_of(telemetry.preview(current_runtime().telemetry, "extensive", measured_config()))
    assert telemetry_schema.problems(payload) == [] and len(payload["host_machine_hash"]) == 64
    assert "not sent" in telemetry.telemetry_command(current_runtime().telemetry, "host-hash off")
    assert "host_machine_hash" not in json_of(telemetry.preview(current_runtime().telemetry, "extensive", measured_config()))


@pytest.mark.parametrize("arguments", ["everything", "preview all", "minimal extensive", "host-hash maybe", "on"])
def test_bad_arguments_say_what_is_accepted(fresh_telemetry, arguments):
    with pytest.raises(ValueError) as error:
        telemetry.telemetry_command(current_runtime().telemetry, arguments)
    assert "disabled | minimal | extensive | preview" in str(error.value) or "accepted: minimal, extensive" in str(error.value)
    assert not consent_path().exists()
