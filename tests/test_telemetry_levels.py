"""Telemetry tiers: which one applies, where it came from, and the stored choice."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest

from carbon_magic.core.config import ConfigError, resolve_config
from carbon_magic.core.problems import problems
from carbon_magic.telemetry import levels
from carbon_magic.telemetry.consent import ConsentStore, consent_path
from carbon_magic.telemetry.levels import Resolution, resolve_level


@pytest.fixture(autouse=True)
def forget_warnings(monkeypatch):
    monkeypatch.setattr(levels, "_warned", set())


def test_nothing_chosen_means_disabled_and_not_chosen():
    resolution = resolve_level({})
    assert resolution == Resolution("disabled", "default: no tier chosen yet", chosen=False)
    assert not resolution.enabled


@pytest.mark.parametrize("value", ["1", "true", "yes", "TRUE", "on", "2", "anything"])
def test_do_not_track_with_any_true_value_beats_every_source(value):
    resolution = resolve_level(
        {"DO_NOT_TRACK": value, "CODECARBON_TELEMETRY": "extensive", "CODECARBON_TELEMETRY_LEVEL": "minimal"},
        parameter=("extensive", "ipython config"),
        stored=("extensive", "/some/telemetry.json"),
    )
    assert resolution.level == "disabled"
    assert resolution.source == f"DO_NOT_TRACK={value}"
    assert resolution.chosen


@pytest.mark.parametrize("value", ["0", "false", "", "no", "off"])
def test_do_not_track_false_values_leave_the_choice_alone(value):
    assert resolve_level({"DO_NOT_TRACK": value}, stored=("minimal", "f")).level == "minimal"


def test_priority_env_then_parameter_then_stored():
    stored = ("minimal", "/home/u/.config/carbon_magic/telemetry.json")
    parameter = ("extensive", "~/.codecarbon.config")
    assert resolve_level({}, stored=stored).source == f"your stored choice ({stored[1]})"
    assert resolve_level({}, parameter, stored) == Resolution(
        "extensive", "the telemetry parameter (~/.codecarbon.config)")
    both = {"CODECARBON_TELEMETRY": "Disabled ", "CODECARBON_TELEMETRY_LEVEL": "extensive"}
    assert resolve_level(both, parameter, stored) == Resolution(
        "disabled", "environment variable CODECARBON_TELEMETRY")
    only_level = {"CODECARBON_TELEMETRY_LEVEL": "minimal"}
    assert resolve_level(only_level, parameter, stored) == Resolution(
        "minimal", "environment variable CODECARBON_TELEMETRY_LEVEL")


def test_invalid_value_warns_once_and_means_disabled(caplog):
    caplog.set_level(logging.WARNING, logger="carbon_magic")
    for _ in range(3):
        resolution = resolve_level({"CODECARBON_TELEMETRY": "full"}, stored=("extensive", "f"))
        assert resolution.level == "disabled"
        assert resolution.chosen  # a typo is a choice: no first-run question
        assert "invalid value 'full'" in resolution.source
    warnings = [r for r in caplog.records if "telemetry level" in r.getMessage()]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "'full'" in message and "CODECARBON_TELEMETRY" in message
    assert "disabled, minimal, extensive" in message


def test_invalid_parameter_in_a_config_file_does_not_stop_tracking(isolated, caplog):
    (isolated / ".codecarbon.config").write_text("[codecarbon]\ntelemetry = lots\n")
    config = resolve_config()  # no ConfigError: telemetry judges its own values
    assert config["telemetry"] == "lots"
    resolution = resolve_level({}, (config["telemetry"], config.source("telemetry")))
    assert resolution.level == "disabled"
    assert "telemetry parameter" in resolution.source and str(isolated) in resolution.source


def test_telemetry_environment_variables_are_not_read_as_config(monkeypatch):
    monkeypatch.setenv("CODECARBON_TELEMETRY", "nonsense")
    monkeypatch.setenv("CODECARBON_TELEMETRY_LEVEL", "nonsense")
    monkeypatch.setenv("CODECARBON_TELEMETRY_DEBUG", "1")
    config = resolve_config()
    assert config.source("telemetry") == "default"


def test_telemetry_endpoint_is_a_parameter_and_still_validated(monkeypatch):
    monkeypatch.setenv("CODECARBON_TELEMETRY_ENDPOINT", "http://127.0.0.1:9/t")
    assert resolve_config()["telemetry_endpoint"] == "http://127.0.0.1:9/t"
    with pytest.raises(ConfigError, match="telemetry_endpoint"):
        resolve_config({"telemetry_endpoint": 42})


def test_current_level_reads_traitlets_like_layers_and_stored_choice(fresh_telemetry):
    lifecycle = fresh_telemetry
    config = resolve_config(layers=[("CarbonMagic config", {"telemetry": "minimal"})])
    assert lifecycle.current_level(config) == Resolution("minimal", "the telemetry parameter (CarbonMagic config)")
    lifecycle.consent_store().store_level("extensive", "command")
    assert lifecycle.current_level(resolve_config()).level == "extensive"
    assert lifecycle.current_level(config).level == "minimal"  # the parameter ranks above


# --- the stored choice ----------------------------------------------------------------------


def test_consent_file_lives_in_xdg_config_home_else_dot_config(tmp_path):
    assert consent_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "carbon_magic" / "telemetry.json"
    home = Path(os.path.expanduser("~"))  # the test's own HOME (conftest)
    assert consent_path({}) == home / ".config" / "carbon_magic" / "telemetry.json"
    assert consent_path({"XDG_CONFIG_HOME": ""}) == home / ".config" / "carbon_magic" / "telemetry.json"


def test_stored_choice_is_kept_private_and_survives_a_new_process_store(tmp_path):
    path = tmp_path / "cfg" / "carbon_magic" / "telemetry.json"
    store = ConsentStore(path)
    assert store.choice().level is None
    assert store.store_level("minimal", "prompt")
    data = json.loads(path.read_text())
    assert data["level"] == "minimal" and data["chosen_with"] == "prompt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # holds the local secret
    fresh = ConsentStore(path)
    assert fresh.choice().level == "minimal"
    assert fresh.choice().host_machine_hash is False
    with pytest.raises(ValueError, match="accepted: disabled, minimal, extensive"):
        store.store_level("everything", "command")


def test_secret_and_install_id_are_created_once_and_kept(tmp_path):
    path = tmp_path / "telemetry.json"
    secret = ConsentStore(path).secret()
    install_id = ConsentStore(path).install_id()
    assert len(secret) == 32
    assert ConsentStore(path).secret() == secret
    assert ConsentStore(path).install_id() == install_id
    other = ConsentStore(tmp_path / "other.json").secret()
    assert other != secret


def test_writes_are_atomic_no_temporary_files_left(tmp_path):
    folder = tmp_path / "config"
    folder.mkdir()
    path = folder / "telemetry.json"
    store = ConsentStore(path)
    for level in ("minimal", "extensive", "disabled"):
        store.store_level(level, "command")
        store.store_host_machine_hash(level == "extensive")
    assert sorted(p.name for p in folder.iterdir()) == ["telemetry.json"]
    assert json.loads(path.read_text())["level"] == "disabled"


def test_corrupt_file_counts_as_no_choice_and_is_replaced(tmp_path):
    path = tmp_path / "telemetry.json"
    path.write_text("{not json")
    store = ConsentStore(path)
    assert store.choice().level is None
    assert any(p.where == "telemetry choice file" for p in problems.all())
    assert store.store_level("minimal", "command")
    assert json.loads(path.read_text())["level"] == "minimal"


def test_a_bad_secret_is_replaced_not_trusted(tmp_path):
    path = tmp_path / "telemetry.json"
    path.write_text(json.dumps({"level": "minimal", "secret": "zz-not-hex"}))
    secret = ConsentStore(path).secret()
    assert len(secret) == 32
    assert json.loads(path.read_text())["secret"] == secret.hex()


def test_unwritable_folder_keeps_the_choice_for_the_session(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = ConsentStore(blocker / "carbon_magic" / "telemetry.json")  # a folder under a file
    assert store.store_level("minimal", "command") is False
    assert store.choice().level == "minimal"
    assert any(p.where == "telemetry choice file" for p in problems.all())


def test_importing_telemetry_imports_no_front_end_or_network_library():
    import subprocess
    import sys

    code = ("import sys, carbon_magic.telemetry; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('IPython', 'ipywidgets', 'ipykernel', 'requests', 'pynvml', 'pandas')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
