"""Parameter resolution: every source, its priority, its errors."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from carbon_magic.core.config import ENV_NOT_PARAMETERS, ConfigError, resolve_config
from carbon_magic.core.meters import HardwareSpec
from carbon_magic.core.params import ENV_SWITCHES, PARAMS, SETTINGS, affecting

from .config_reads import (
    REPO, codecarbon_parameter_names, core_import_closure, env_variables_named, every_source_file, names_read,
)


def write_config(folder: Path, text: str) -> Path:
    path = folder / ".codecarbon.config"
    path.write_text(text)
    return path


def test_defaults_match_codecarbon():
    config = resolve_config()
    expected = {
        "project_name": "codecarbon", "measure_power_secs": 15.0, "api_call_interval": 8,
        "output_file": "emissions.csv", "output_dir": ".", "save_to_file": True,
        "tracking_mode": "machine", "on_csv_write": "append", "log_level": "info",
        "allow_multiple_runs": True, "pue": 1.0, "wue": 0.0, "prometheus_url": "localhost:9091",
        "save_to_api": False, "save_to_logger": False, "save_to_prometheus": False,
        "save_to_logfire": False, "rapl_include_dram": False, "rapl_prefer_psys": False,
        "force_mode_cpu_load": False, "logger_preamble": "", "gpu_ids": None,
    }
    for name, value in expected.items():
        assert config[name] == value, name
        assert config.source(name) == "default"


def test_priority_default_global_local_env_layer_argument(isolated, monkeypatch):
    home = Path(monkeypatch_home := isolated.parent / "home")
    write_config(home, "[codecarbon]\npue = 1.1\nwue = 0.5\nproject_name = global\nmeasure_power_secs = 3\n")
    write_config(isolated, "[codecarbon]\npue = 1.2\nwue = 0.6\nproject_name = local\n")
    monkeypatch.setenv("CODECARBON_PUE", "1.3")
    monkeypatch.setenv("codecarbon_wue", "0.7")  # the prefix is case-insensitive
    config = resolve_config(
        {"pue": 1.5}, layers=[("%config CarbonMagic", {"pue": 1.4, "wue": 0.8})]
    )
    assert config["pue"] == 1.5 and config.source("pue") == "argument"
    assert config["wue"] == 0.8 and config.source("wue") == "%config CarbonMagic"
    assert config["project_name"] == "local" and config.source("project_name").endswith(".codecarbon.config")
    assert str(monkeypatch_home) not in config.source("project_name")
    assert config["measure_power_secs"] == 3.0 and config.source("measure_power_secs") == "~/.codecarbon.config"
    monkeypatch.delenv("CODECARBON_PUE")
    assert resolve_config()["pue"] == 1.2  # local file beats global
    assert resolve_config(environ={})["wue"] == 0.6


def test_file_values_are_coerced_from_text(isolated):
    write_config(
        isolated,
        "[codecarbon]\nsave_to_file = no\ngpu_ids = 0, 2, GPU-ab12\nlog_level = WARNING\n"
        "output_methods = csv,Prometheus\napi_call_interval = -1\n",
    )
    config = resolve_config()
    assert config["save_to_file"] is False
    assert config["gpu_ids"] == (0, 2, "GPU-ab12")
    assert config["log_level"] == "warning"
    assert config["output_methods"] == ("csv", "prometheus")
    assert config["api_call_interval"] == -1


@pytest.mark.parametrize(
    "name, value, accepted",
    [
        ("tracking_mode", "everything", "'machine', 'process'"),
        ("pue", "-1", ">= 1"),
        ("pue", "0.9", ">= 1"),
        ("wue", "-0.1", ">= 0"),
        ("measure_power_secs", "fast", "a number"),
        ("measure_power_secs", "0", "> 0"),
        ("api_call_interval", "0", "-1 or >= 1"),
        ("save_to_file", "maybe", "true or false"),
        ("on_csv_write", "overwrite", "'append', 'update'"),
        ("log_level", "loud", "'debug'"),
        ("output_methods", "csv,carrier-pigeon", "'csv'"),
        ("pue", "nan", "a number"),
    ],
)
def test_bad_env_value_names_parameter_value_source_and_accepted(monkeypatch, name, value, accepted):
    monkeypatch.setenv(f"CODECARBON_{name.upper()}", value)
    with pytest.raises(ConfigError) as raised:
        resolve_config()
    message = str(raised.value)
    assert f"'{name}'" in message
    assert repr(value) in message
    assert f"CODECARBON_{name.upper()}" in message
    assert accepted in message
    assert raised.value.name == name


def test_bad_argument_and_file_values_name_their_source(isolated):
    with pytest.raises(ConfigError, match=r"'pue'.*from argument.*>= 1"):
        resolve_config({"pue": 0.5})
    write_config(isolated, "[codecarbon]\ntracking_mode = gpu\n")
    with pytest.raises(ConfigError, match=r"tracking_mode.*\.codecarbon\.config \[codecarbon\]"):
        resolve_config()


def test_unknown_parameter_in_file_is_an_error_with_suggestion(isolated):
    write_config(isolated, "[codecarbon]\npeu = 1.2\n")
    with pytest.raises(ConfigError, match=r"Unknown parameter 'peu'.*Did you mean: pue"):
        resolve_config()


def test_unknown_argument_is_an_error():
    with pytest.raises(ConfigError, match="Unknown parameter 'project'.*project_name"):
        resolve_config({"project": "x"})


def test_unknown_env_variable_is_ignored_with_a_warning(monkeypatch, caplog):
    monkeypatch.setenv("CODECARBON_NOT_A_THING", "1")
    config = resolve_config()
    assert "not_a_thing" not in config
    assert "CODECARBON_NOT_A_THING" in caplog.text


def test_malformed_file_is_a_clear_error(isolated):
    write_config(isolated, "pue = 1.2\n[codecarbon\n")
    with pytest.raises(ConfigError, match="Cannot read .*INI file with a \\[codecarbon\\] section"):
        resolve_config()


def test_objects_cannot_come_from_text(monkeypatch):
    monkeypatch.setenv("CODECARBON_OUTPUT_HANDLERS", "mymodule.Handler")
    with pytest.raises(ConfigError, match="cannot be set from text"):
        resolve_config()


def test_secrets_never_appear_in_errors_or_repr(monkeypatch):
    config = resolve_config({"api_key": "sk-very-secret", "electricitymaps_api_token": "em-token-42"})
    assert "sk-very-secret" not in repr(config)
    assert "em-token-42" not in repr(config)
    assert config["api_key"] == "sk-very-secret"
    with pytest.raises(ConfigError) as raised:
        resolve_config({"api_key": 12345})
    assert "12345" not in str(raised.value)


def test_deprecated_co2_signal_token_fills_electricitymaps_token(monkeypatch):
    monkeypatch.setenv("CODECARBON_CO2_SIGNAL_API_TOKEN", "old-token")
    config = resolve_config()
    assert config["electricitymaps_api_token"] == "old-token"
    assert "deprecated 'co2_signal_api_token'" in config.source("electricitymaps_api_token")
    both = resolve_config({"electricitymaps_api_token": "new-token"})
    assert both["electricitymaps_api_token"] == "new-token"


def test_config_file_is_reread_when_it_changes(isolated):
    path = write_config(isolated, "[codecarbon]\npue = 1.2\n")
    assert resolve_config()["pue"] == 1.2
    path.write_text("[codecarbon]\npue = 1.25\nwue = 2\n")
    config = resolve_config()
    assert config["pue"] == 1.25 and config["wue"] == 2.0


def documented_parameters() -> set[str]:
    """The parameter rows of docs/parameters.md, the page users read."""
    return set(re.findall(r"^\| `(\w+)` \|", (REPO / "docs" / "parameters.md").read_text(), re.M))


def test_every_parameter_documented_in_the_table():
    """Against two lists the table does not make: CodeCarbon 3.3's own parameter reference
    (its documentation page, parsed) and the names the code reads from a configuration (its
    source, parsed): each is a parameter, documented with its help; and no documented
    parameter goes unread (a deprecated one is read through its replacement, the sampler's
    through HardwareSpec)."""
    documented = documented_parameters()
    codecarbon = codecarbon_parameter_names()
    read = names_read(every_source_file())
    assert len(codecarbon) >= 39 and {"pue", "gpu_ids", "rapl_prefer_psys", "country_2letter_iso_code"} <= codecarbon
    assert codecarbon - set(PARAMS) == set() and codecarbon - documented == set()
    assert read - set(SETTINGS) == set()
    assert (read & set(PARAMS)) - documented == set()
    replaced = {name for name, param in PARAMS.items() if param.replaced_by}
    assert documented - read <= replaced | {field.name for field in fields(HardwareSpec)}
    assert all(PARAMS[name].help for name in documented)


def test_the_sampler_spec_is_the_tables_sampler_set():
    """HardwareSpec (one sampler per distinct spec) holds exactly the parameters the table
    says affect the sampler: one forgotten there would share a sampler across settings."""
    assert {field.name for field in fields(HardwareSpec)} == set(affecting("sampler"))
    spec = HardwareSpec.from_config(resolve_config({"force_cpu_power": 70.0, "rapl_include_dram": True}))
    assert spec.force_cpu_power == 70.0 and spec.rapl_include_dram is True


def test_the_location_key_is_what_the_location_code_reads():
    """Every parameter that the location service's code reads is in the table's location set
    (its memo key), and every one of that set is read there (a deprecated one through its
    replacement): a forgotten entry would give a stale location."""
    read = names_read(core_import_closure("carbon_magic.core.location"))
    location = set(affecting("location"))
    assert read and read <= location
    assert location - read <= {name for name, param in PARAMS.items() if param.replaced_by}


def test_environment_variables_not_read_as_parameters_come_from_the_table():
    """Every CODECARBON_* variable the code names is a parameter's variable or one of the
    table's: read elsewhere (telemetry) or a switch; resolution skips exactly those."""
    named = env_variables_named(every_source_file()) - {"CODECARBON_NAME"}  # the help's placeholder
    from_table = {name for param in PARAMS.values() for name in param.env_names}
    assert named <= from_table | {switch.variable for switch in ENV_SWITCHES}
    assert ENV_NOT_PARAMETERS == {"CODECARBON_TELEMETRY", "CODECARBON_TELEMETRY_LEVEL", "CODECARBON_TELEMETRY_DEBUG"}
    config = resolve_config(environ={name: "nonsense" for name in ENV_NOT_PARAMETERS})
    assert config.source("telemetry") == "default"


def test_parameter_docs_are_generated_from_the_table():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "gen_docs.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
