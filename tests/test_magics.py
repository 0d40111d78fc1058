"""The magics in a real IPython InteractiveShell: every subcommand, errors, records, config routes."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import traceback
from pathlib import Path

import pytest

pytest.importorskip("IPython")

from IPython.core.error import UsageError  # noqa: E402
from traitlets.config import Config  # noqa: E402

from carbon_magic.core.problems import problems  # noqa: E402
from carbon_magic.core.record import CSV_COLUMNS  # noqa: E402
from carbon_magic.ipython.extension import get_session  # noqa: E402
from carbon_magic.ipython.options import NO_OPTIONS  # noqa: E402
from carbon_magic.ipython.report import REPORT_COLUMNS  # noqa: E402
from carbon_magic.ipython.warmup import Warmup  # noqa: E402
from carbon_magic.outputs.cells_file import CELLS_CSV_COLUMNS  # noqa: E402

from .ipython_helpers import drain_outputs, loaded_shell, read_csv  # noqa: E402
from .polling import eventually


@pytest.fixture
def ip(isolated, monkeypatch):
    """IPython's InteractiveShell with carbon_magic loaded, offline (France), unloaded after."""
    shell = loaded_shell(monkeypatch)
    shell.user_ns.pop("ran", None)
    yield shell
    shell.extension_manager.unload_extension("carbon_magic")


def run(ip, code: str, **kwargs):
    return ip.run_cell(code, store_history=True, **kwargs)


def records(ip):
    return get_session(ip).records


# -- loading -------------------------------------------------------------------------------------


def test_load_says_what_is_measured_and_unload_removes_every_hook(ip, capsys, monkeypatch):
    from carbon_magic.ipython import extension

    monkeypatch.setattr(extension, "LOAD_BUDGET_S", 30.0)  # wait for discovery, however slow
    ip.extension_manager.unload_extension("carbon_magic")
    capsys.readouterr()
    ip.run_line_magic("load_ext", "carbon_magic")
    line = capsys.readouterr().out.strip()
    # no readable RAPL here: the machine model (a guest's share on a VM), not CodeCarbon's TDP / DIMM guesses
    assert "CPU by " in line and "RAM by " in line and "PLATFORM by " in line and "no GPU" in line
    assert line.count("model (modelled)") == 3 and "TDP" not in line and "DIMM" not in line
    assert "France" in line and "g CO2e/kWh" in line
    assert ip.find_cell_magic("carbon") and ip.find_line_magic("carbon")
    assert any(type(c).__name__ == "CarbonMagic" for c in ip.configurables)
    session = get_session(ip)
    assert session.pre_run_cell in ip.events.callbacks["pre_run_cell"]

    ip.extension_manager.unload_extension("carbon_magic")
    assert ip.find_cell_magic("carbon") is None and ip.find_line_magic("carbon") is None
    assert not any(type(c).__name__ == "CarbonMagic" for c in ip.configurables)
    assert session.pre_run_cell not in ip.events.callbacks["pre_run_cell"]
    assert session.post_run_cell not in ip.events.callbacks["post_run_cell"]
    assert get_session(ip) is None
    ip.run_line_magic("load_ext", "carbon_magic")  # the fixture unloads it again


def test_load_does_not_wait_for_slow_discovery_and_status_tells_the_rest(ip, capsys, monkeypatch):
    from carbon_magic.ipython import extension

    ip.extension_manager.unload_extension("carbon_magic")
    monkeypatch.setattr(extension, "LOAD_BUDGET_S", 0.0)
    monkeypatch.setattr(extension, "STATUS_WAIT_S", 0.0)
    discover = Warmup._run
    monkeypatch.setattr(Warmup, "_run", lambda self: (time.sleep(0.5), discover(self)))
    capsys.readouterr()
    ip.run_line_magic("load_ext", "carbon_magic")
    assert "still finding how to measure CPU, RAM and GPUs" in capsys.readouterr().out
    run(ip, "%carbon status")
    assert "discovery still running" in capsys.readouterr().out
    get_session(ip)  # the extension works meanwhile
    assert run(ip, "%%carbon --quiet\nx = 1").success
    monkeypatch.setattr(extension, "STATUS_WAIT_S", 3.0)
    run(ip, "%carbon status")  # waits for discovery rather than answering "later"
    out = capsys.readouterr().out
    assert re.search(r"cpu: [0-9.]+ W \(.* modelled\) now\n", out) and re.search(r"\bcpu\b.*: modelled: ", out)


def test_a_value_rejected_by_config_does_not_break_a_later_load(ip, caplog, capsys):
    ip.run_line_magic("config", "CarbonMagic.pue = 0.5")  # rejected, yet merged into the shell's config
    ip.extension_manager.unload_extension("carbon_magic")
    ip.run_line_magic("load_ext", "carbon_magic")
    err = capsys.readouterr().err
    assert "Invalid value 0.5 for 'pue'" in err and "Ignored." in err
    assert get_session(ip).settings.pue == 1.0


@pytest.mark.reliability(area="kernel life", promise="50 %load_ext / %unload_ext cycles, each with a tracked "
                         "cell, leave no thread (beyond one per output lane) and no file handle behind.")
def test_fifty_load_unload_cycles_leak_no_threads_or_files(ip, capsys):
    """Threads that outlive the cycles are leaks, except the one thread an output lane keeps
    (for IDLE_EXIT_S, whichever test started it: comparing with "no carbon_magic thread at
    all" made this test fail whenever an earlier test's lane was still idling)."""
    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    def carbon_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("carbon_magic")}

    run(ip, "%%carbon --quiet\nx = 1")
    ip.extension_manager.unload_extension("carbon_magic")
    drain_outputs()
    threads_before, files_before, carbon_before = threading.active_count(), open_files(), carbon_threads()
    for _ in range(50):
        ip.run_line_magic("load_ext", "carbon_magic")
        run(ip, "%%carbon --quiet\nx = 1")
        ip.extension_manager.unload_extension("carbon_magic")
    drain_outputs()
    started = sorted(t.name for t in carbon_threads() - carbon_before)
    lane_threads = [name for name in started if name.startswith("carbon_magic-outputs")]
    assert [name for name in started if name not in lane_threads] == []
    assert len(lane_threads) == len(set(lane_threads))  # at most one per lane
    assert threading.active_count() <= threads_before + len(lane_threads)
    assert open_files() <= files_before
    ip.run_line_magic("load_ext", "carbon_magic")


# -- %%carbon ------------------------------------------------------------------------------------


def test_cell_magic_runs_the_cell_returns_its_value_and_writes_both_files(ip, capsys):
    result = run(ip, "%%carbon --name squares\ntotal = sum(i * i for i in range(20000))\ntotal")
    assert result.success and result.result == sum(i * i for i in range(20000))
    assert ip.user_ns["total"] == result.result
    out = capsys.readouterr().out
    assert "carbon: squares" in out and "mWh" in out or "µWh" in out
    assert "g CO2e/kWh" in out and "France" in out
    drain_outputs()
    header, rows = read_csv(Path("emissions.csv"))
    assert header == list(CSV_COLUMNS)
    assert len(rows) == 1 and rows[0]["country_iso_code"] == "FRA"
    header, cells = read_csv(Path("carbon_cells.csv"))
    assert header == list(CELLS_CSV_COLUMNS)
    assert cells[0]["label"] == "squares" and cells[0]["status"] == "ok"
    assert cells[0]["first_line"] == "total = sum(i * i for i in range(20000))"
    assert cells[0]["execution_count"] == str(result.execution_count)
    assert cells[0]["run_id"] == rows[0]["run_id"]
    assert float(cells[0]["energy_consumed"]) > 0
    # the modelled platform is inside energy_consumed (count_platform=True); the band (nothing is
    # measured here: CPU, RAM and platform are modelled) brackets the energy and the CO2
    cell = {name: float(cells[0][name]) for name in ("cpu_energy", "gpu_energy", "ram_energy", "platform_energy",
                                                     "energy_consumed", "energy_low", "energy_high", "emissions",
                                                     "emissions_low", "emissions_high")}
    assert cell["platform_energy"] > 0
    assert cell["energy_consumed"] == pytest.approx(
        cell["cpu_energy"] + cell["gpu_energy"] + cell["ram_energy"] + cell["platform_energy"], rel=1e-9)
    assert cell["energy_low"] < 0.8 * cell["energy_consumed"] < cell["energy_consumed"] < cell["energy_high"]
    assert cell["emissions_low"] / cell["emissions"] == pytest.approx(cell["energy_low"] / cell["energy_consumed"])
    assert cell["emissions_high"] / cell["emissions"] == pytest.approx(cell["energy_high"] / cell["energy_consumed"])


def test_cell_magic_semicolon_hides_the_value_and_quiet_hides_the_summary(ip, capsys):
    assert run(ip, "%%carbon --quiet\n6 * 7;").result is None
    assert capsys.readouterr().out == ""
    assert run(ip, "%%carbon --quiet\n6 * 7").result == 42


def test_summary_is_published_as_text_and_html(ip, monkeypatch):
    bundles = []
    original = ip.display_pub.publish
    monkeypatch.setattr(ip.display_pub, "publish", lambda data, *a, **k: (bundles.append(data), original(data, *a, **k)))
    run(ip, "%%carbon --name 'a <b>'\nx = 1")
    summary = [b for b in bundles if "text/html" in b]
    assert len(summary) == 1
    assert summary[0]["text/plain"].startswith("carbon: a <b> |")
    assert "a &lt;b&gt;" in summary[0]["text/html"] and "carbon-magic-summary" in summary[0]["text/html"]


def test_summary_says_whose_figures_and_which_components_a_counter_measures(ip, monkeypatch, tmp_path):
    """The one-line summary says, as the live panel does, whether the figures are the whole
    machine's or this kernel's share, and per component whether a counter measures it."""
    from .fakes.powercap import make_tree

    bundles = []
    original = ip.display_pub.publish
    monkeypatch.setattr(ip.display_pub, "publish", lambda data, *a, **k: (bundles.append(data), original(data, *a, **k)))
    run(ip, "%%carbon --name modelled\nx = 1")  # no RAPL here: both modelled, machine mode by default
    [summary] = [b for b in bundles if "text/html" in b]
    assert "| whole machine: CPU modelled, RAM modelled, PLATFORM modelled |" in summary["text/plain"]
    assert re.search(r"\| [0-9.]+ [nµm]?Wh \([0-9.]+ (?:[nµm]?Wh )?\.\. [0-9.]+ [nµm]?Wh modelled\) \|", summary["text/plain"])
    assert 'data-component="cpu" data-measured="false"' in summary["text/html"]
    assert "whole machine" in summary["text/html"] and "RAM modelled" in summary["text/html"]

    make_tree(tmp_path)
    bundles.clear()
    run(ip, f"%%carbon --name counted --powercap-root {tmp_path} --tracking-mode process\nx = 1")
    [summary] = [b for b in bundles if "text/html" in b]
    assert "| this kernel's share (process mode): CPU measured (counter), RAM modelled, PLATFORM modelled |" in summary["text/plain"]
    assert 'data-component="cpu" data-measured="true"' in summary["text/html"]
    assert 'data-component="ram" data-measured="false"' in summary["text/html"]
    assert records(ip)[-1].measured_kinds == frozenset({"cpu"}) and not records(ip)[-1].machine_wide


def test_the_summarys_average_power_has_a_band_where_modelled_and_none_where_a_counter_measures(ip, monkeypatch,
                                                                                               tmp_path):
    """Issue 18: each modelled component's average power carries its band, as the energy does;
    a component a counter measures (the CPU, by RAPL) has none."""
    import html

    from carbon_magic.ipython.panel.presentation import banded, power

    from .fakes.powercap import make_tree

    bundles = []
    original = ip.display_pub.publish
    monkeypatch.setattr(ip.display_pub, "publish", lambda data, *a, **k: (bundles.append(data), original(data, *a, **k)))

    def average_power(options: str, counted: frozenset[str]) -> None:
        bundles.clear()
        run(ip, f"%%carbon {options}\nx = sum(range(100_000))")
        [summary] = [b for b in bundles if "text/html" in b]
        record = records(ip)[-1]
        bands = dict(record.bands)
        parts = [f"{kind.upper()} {power(watts) if kind in counted else banded(watts, bands[kind], power)}"
                 for kind, watts in (("cpu", record.cpu_power_w), ("ram", record.ram_power_w),
                                     ("platform", record.platform_power_w))]
        expected = "avg " + ", ".join(parts)
        assert f"| {expected} |" in summary["text/plain"], summary["text/plain"]
        assert html.escape(expected) in summary["text/html"]
        assert summary["text/plain"].count(" W modelled)") == 3 - len(counted)

    average_power("--name modelled", frozenset())  # no RAPL here: all modelled, each with its band
    make_tree(tmp_path)
    average_power(f"--name counted --powercap-root {tmp_path}", frozenset({"cpu"}))


def test_cell_id_from_the_front_end_is_recorded(ip):
    run(ip, "%%carbon --quiet\nx = 1", cell_id="cell-abc-123")
    assert records(ip)[-1].cell_id == "cell-abc-123"
    drain_outputs()
    assert read_csv(Path("carbon_cells.csv"))[1][-1]["cell_id"] == "cell-abc-123"


def test_a_cells_exception_propagates_unchanged_and_the_cell_is_recorded_failed(ip, capsys):
    run(ip, "class Boom(Exception):\n    pass")
    result = run(ip, "%%carbon --quiet\nx = 1\nraise Boom('bad data', 7)")
    error = result.error_in_exec
    assert type(error) is ip.user_ns["Boom"] and error.args == ("bad data", 7)
    last = traceback.extract_tb(error.__traceback__)[-1]
    assert last.lineno == 3 and last.line == "raise Boom('bad data', 7)"  # numbered as in the cell
    shown = capsys.readouterr().out
    assert "Boom: ('bad data', 7)" in shown and "raise Boom('bad data', 7)" in shown
    assert records(ip)[-1].status == "failed"
    drain_outputs()
    assert read_csv(Path("carbon_cells.csv"))[1][-1]["status"] == "failed"


def test_keyboard_interrupt_propagates_and_the_cell_is_recorded_interrupted(ip):
    result = run(ip, "%%carbon --quiet\nraise KeyboardInterrupt")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert records(ip)[-1].status == "interrupted"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--pue abc", "argument --pue: Invalid value 'abc' for 'pue' (from magic option --pue). Accepted: a number >= 1 and <= 10."),
        ("--tracking-mode fast", "Accepted: one of 'machine', 'process'"),
        ("--pu 1.2", "unknown option --pu (did you mean --pue"),
        ("total", "unexpected argument 'total'"),
        ("--country-iso-code Atlantis", "Atlantis"),
    ],
)
def test_invalid_options_give_a_usage_error_and_the_cell_does_not_run(ip, capsys, line, message):
    count = len(records(ip))
    result = run(ip, f"%%carbon {line}\nran = True")
    assert isinstance(result.error_in_exec, UsageError)
    assert message in str(result.error_in_exec)
    assert "ran" not in ip.user_ns and len(records(ip)) == count
    assert "Traceback" not in capsys.readouterr().out  # a usage error, not a stack


def test_bad_environment_value_is_reported_at_the_magic_with_its_source(ip, monkeypatch):
    monkeypatch.setenv("CODECARBON_WUE", "-2")
    result = run(ip, "%%carbon\nran = True")
    assert isinstance(result.error_in_exec, UsageError)
    assert "environment variable CODECARBON_WUE" in str(result.error_in_exec)
    assert "ran" not in ip.user_ns


def test_tracking_failures_never_break_the_cell(ip):
    class Broken:
        def out(self, total, delta):
            raise RuntimeError("disk on fire")

    ip.run_line_magic("config", "CarbonMagic.save_to_file = False")
    get_session(ip).settings.output_handlers = [Broken()]
    result = run(ip, "%%carbon --quiet\ny = 2")
    assert result.success and ip.user_ns["y"] == 2
    drain_outputs()
    assert any("disk on fire" in p.message for p in problems.all())


# -- %carbon STATEMENT ---------------------------------------------------------------------------


def test_statement_is_tracked_and_its_value_returned(ip):
    run(ip, "value = %carbon --quiet sum(range(1000))")
    assert ip.user_ns["value"] == sum(range(1000))
    record = records(ip)[-1]
    assert record.kind == "statement" and record.first_line == "sum(range(1000))"


def test_statement_sees_a_functions_local_variables(ip):
    run(ip, "def f():\n    a = 20\n    return get_ipython().run_line_magic('carbon', '--quiet a + 1')")
    assert run(ip, "f()").result == 21


def test_double_dash_tracks_a_statement_named_like_a_subcommand(ip):
    run(ip, "status = 'mine'")
    assert run(ip, "%carbon --quiet -- status").result == "mine"


def test_line_magic_without_statement_is_a_usage_error(ip):
    assert isinstance(run(ip, "%carbon --pue 1.2").error_in_exec, UsageError)


def test_statement_after_options_that_take_no_value(ip):
    """Every flag of the table (--quiet, --no-panel, --no-sync) ends where the statement starts."""
    run(ip, "def f():\n    return 42")
    result = run(ip, "v = %carbon --quiet --no-sync f()")
    assert result.success and ip.user_ns["v"] == 42
    assert records(ip)[-1].first_line == "f()"
    assert run(ip, "w = %carbon --no-panel --quiet --no-sync f()").success and ip.user_ns["w"] == 42


# -- %carbon on / off ----------------------------------------------------------------------------


def test_auto_mode_tracks_every_cell_once(ip, capsys):
    run(ip, "%carbon on --quiet")
    run(ip, "a = 1")
    run(ip, "b = 2\nc = 3")
    run(ip, "%%carbon --name explicit --quiet\nd = 4")  # counted once, by the magic
    run(ip, "%carbon status")  # a command cell is not work
    run(ip, "1 / 0")
    run(ip, "%carbon off")
    run(ip, "e = 5")
    got = [(r.kind, r.label, r.first_line, r.status) for r in records(ip)]
    assert [g[2] for g in got] == ["a = 1", "b = 2", "d = 4", "1 / 0"]
    assert got[2][1] == "explicit"
    assert [g[3] for g in got] == ["ok", "ok", "ok", "failed"]
    assert "automatic tracking is off" in capsys.readouterr().out


def test_auto_mode_prints_a_summary_per_cell_unless_quiet(ip, capsys):
    run(ip, "%carbon on")
    capsys.readouterr()
    run(ip, "z = 1")
    assert capsys.readouterr().out.startswith("carbon: cell ")


def test_auto_mode_checks_its_options_when_turned_on(ip):
    result = run(ip, "%carbon on --pue 0.3")
    assert isinstance(result.error_in_exec, UsageError) and "Accepted: a number >= 1" in str(result.error_in_exec)
    assert get_session(ip).auto is None


# -- spans ---------------------------------------------------------------------------------------


def test_spans_across_cells_may_overlap(ip):
    run(ip, "%carbon start outer --quiet")
    run(ip, "x = sum(range(10000))")
    run(ip, "%carbon start inner --quiet")
    assert [w.label for w in get_session(ip).active()] == ["outer", "inner"]
    run(ip, "%carbon stop outer")
    run(ip, "%carbon stop")
    spans = [r for r in records(ip) if r.kind == "span"]
    assert [s.label for s in spans] == ["outer", "inner"]
    assert spans[0].first_line.startswith("span over cells [")
    assert get_session(ip).active() == []


def test_span_errors_are_usage_errors(ip):
    assert "no span is running" in str(run(ip, "%carbon stop").error_in_exec)
    run(ip, "%carbon start s --quiet")
    assert "already running" in str(run(ip, "%carbon start s").error_in_exec)
    assert "no running span named 't'" in str(run(ip, "%carbon stop t").error_in_exec)


def test_unload_records_running_spans(ip, capsys):
    run(ip, "%carbon start long")
    session = get_session(ip)
    ip.extension_manager.unload_extension("carbon_magic")
    assert [r.label for r in session.records] == ["long"]
    assert "stopped running span" in capsys.readouterr().out
    ip.run_line_magic("load_ext", "carbon_magic")


# -- status, report, plot, config, export --------------------------------------------------------


def test_status_tells_how_where_what_runs_and_what_failed(ip, capsys):
    run(ip, "%carbon start training --quiet")
    problems.note("test meter", OSError("sensor unplugged"))
    capsys.readouterr()
    run(ip, "%carbon status")
    out = capsys.readouterr().out
    # per component: its power now with the band, modelled, how (the model and its basis, said
    # once for the components it covers) and how good (its validated band)
    lines = [line.strip() for line in out.splitlines()]
    for component in ("cpu", "ram", "platform"):
        assert any(re.fullmatch(rf"{component}: [0-9.]+ W \([0-9.]+ \.\. [0-9.]+ W modelled\) now", line)
                   for line in lines), (component, out)
    [basis] = [line for line in lines if line.startswith("cpu, ram, platform: modelled: ")]
    assert "p5..p95 band x0." in basis and "median error 10% on 437 SPEC servers of CPU models the fit did not see" in basis
    assert "sampler interval" in out and "No NVIDIA GPU measured" in out
    assert "France" in out and "Ember" in out
    assert "span 'training'" in out
    assert "test meter: OSError x1: sensor unplugged" in out
    assert "./emissions.csv" in out and "./carbon_cells.csv" in out


def test_report_is_a_dataframe_with_a_row_per_record(ip):
    run(ip, "%%carbon --name one --quiet\nx = 1")
    run(ip, "%carbon --quiet x + 1")
    run(ip, "df = %carbon report")
    frame = ip.user_ns["df"]
    assert list(frame.columns) == list(REPORT_COLUMNS)
    assert list(frame["label"]) == ["one", f"statement {records(ip)[1].execution_count}"]
    assert list(frame["status"]) == ["ok", "ok"]
    assert (frame["energy_wh"] > 0).all()
    assert frame["energy_wh"].iloc[0] == pytest.approx(records(ip)[0].energy_kwh * 1000)
    assert frame["intensity_g_per_kwh"].iloc[0] == pytest.approx(records(ip)[0].intensity_g_per_kwh)
    assert str(frame["start_time"].dtype).startswith("datetime64")


def test_plot_stacks_energy_and_co2_by_component(ip):
    run(ip, "%%carbon --quiet\nx = 1")
    run(ip, "%%carbon --quiet\ny = 2")
    figure = ip.run_line_magic("carbon", "plot")
    names = {(trace.name, trace.yaxis) for trace in figure.data}
    # the platform (the modelled rest of the machine) is part of each cell's energy: stacked too
    assert names == {(kind, axis) for kind in ("CPU", "RAM", "PLATFORM") for axis in ("y", "y2")}
    assert figure.layout.barmode == "stack"
    cpu_energy = next(t for t in figure.data if t.name == "CPU" and t.yaxis == "y")
    from carbon_magic.ipython.panel.presentation import axis_unit

    factor, unit = axis_unit(max(r.energy_kwh for r in records(ip)) * 1000, "Wh")  # scaled like the panel
    assert figure.layout.yaxis.title.text == unit
    assert list(cpu_energy.y) == pytest.approx([r.cpu_energy_kwh * 1000 * factor for r in records(ip)])


def test_plot_with_nothing_tracked_says_so(ip, capsys):
    assert ip.run_line_magic("carbon", "plot") is None
    assert "nothing tracked yet" in capsys.readouterr().out


def test_export_writes_csv_json_html(ip, tmp_path):
    run(ip, "%%carbon --name exported --quiet\nx = 1")
    for name in ("out/report.csv", "out/report.json", "out/report.html"):
        run(ip, f"%carbon export {tmp_path / name}")
    assert read_csv(tmp_path / "out/report.csv")[1][0]["label"] == "exported"
    assert json.loads((tmp_path / "out/report.json").read_text())[0]["label"] == "exported"
    assert "<table" in (tmp_path / "out/report.html").read_text()
    assert "must end in .csv, .json, .html" in str(run(ip, "%carbon export report.xlsx").error_in_exec)


def test_config_shows_values_and_sources_without_secrets(ip, capsys):
    ip.run_line_magic("config", "CarbonMagic.api_key = 'sekrit-token'")
    run(ip, "%carbon config --pue 1.25")
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "1.25" in lines["pue"] and "magic option" in lines["pue"]
    assert "environment variable CODECARBON_COUNTRY_ISO_CODE" in lines["country_iso_code"]
    assert "%config CarbonMagic" in lines["api_key"] and "'***'" in lines["api_key"]
    assert "default" in lines["wue"] and "panel" in lines
    assert "sekrit" not in out
    ip.run_line_magic("config", "CarbonMagic")
    assert "sekrit" not in capsys.readouterr().out


# -- configuration routes ------------------------------------------------------------------------


def last_pue(ip, code: str) -> tuple[float, str]:
    run(ip, code)
    drain_outputs()
    rows = read_csv(Path("emissions.csv"))[1]
    config = get_session(ip).pool.config(NO_OPTIONS)
    return float(rows[-1]["pue"]), config.source("pue")


def test_precedence_magic_option_over_traitlets_over_env_over_local_over_global_over_default(ip, isolated, monkeypatch):
    home = Path(os.environ["HOME"])
    cell = "%%carbon --quiet\nx = 1"
    assert last_pue(ip, cell) == (1.0, "default")
    (home / ".codecarbon.config").write_text("[codecarbon]\npue = 1.1\n")
    assert last_pue(ip, cell) == (1.1, "~/.codecarbon.config")
    (isolated / ".codecarbon.config").write_text("[codecarbon]\npue = 1.2\n")
    assert last_pue(ip, cell)[0] == 1.2
    monkeypatch.setenv("CODECARBON_PUE", "1.3")
    assert last_pue(ip, cell) == (1.3, "environment variable CODECARBON_PUE")
    ip.run_line_magic("config", "CarbonMagic.pue = 1.4")
    assert last_pue(ip, cell) == (1.4, "%config CarbonMagic")
    run(ip, "%%carbon --quiet --pue 1.5\nx = 1")
    drain_outputs()
    assert float(read_csv(Path("emissions.csv"))[1][-1]["pue"]) == 1.5
    ip.run_line_magic("config", "CarbonMagic.pue = 1.0")  # explicitly the default value still wins
    assert last_pue(ip, cell) == (1.0, "%config CarbonMagic")


def test_config_magic_rejects_bad_values_with_the_cores_message(ip, caplog):
    with caplog.at_level(logging.ERROR):
        ip.run_line_magic("config", "CarbonMagic.pue = 0.5")
        ip.run_line_magic("config", "CarbonMagic.tracking_mode = 'everything'")
    text = caplog.text
    assert "Invalid value 0.5 for 'pue' (from %config CarbonMagic). Accepted: a number >= 1 and <= 10." in text
    assert "Invalid value 'everything' for 'tracking_mode'" in text
    settings = get_session(ip).settings
    assert settings.pue == 1.0 and settings.tracking_mode == "machine"
    assert settings.source("pue") is None


def test_traitlets_values_from_the_shells_config(ip):
    from carbon_magic.ipython.traitlets_config import CarbonMagic

    config = Config()
    config.CarbonMagic.country_iso_code = "DEU"
    config.CarbonMagic.gpu_ids = "0,1"
    settings = CarbonMagic(config=config)
    assert settings.gpu_ids == (0, 1)
    assert dict(settings.layers()) == {"IPython config (c.CarbonMagic)": {"country_iso_code": "DEU", "gpu_ids": (0, 1)}}
    rejecting = CarbonMagic(config=Config({"CarbonMagic": {"tracking_mode": "x", "pue": 1.2}}))
    assert rejecting.tracking_mode == "machine" and rejecting.pue == 1.2
    assert rejecting.rejected == [
        "Invalid value 'x' for 'tracking_mode' (from IPython config (c.CarbonMagic)). "
        "Accepted: one of 'machine', 'process'. Ignored."
    ]


def test_quiet_and_panel_traits_set_the_defaults(ip, capsys):
    ip.run_line_magic("config", "CarbonMagic.quiet = True")
    ip.run_line_magic("config", "CarbonMagic.panel = False")
    capsys.readouterr()
    seen = []
    get_session(ip).add_listener(type("L", (), {"cell_started": lambda self, w: seen.append(w.panel)})())
    run(ip, "%%carbon\nx = 1")
    assert capsys.readouterr().out == "" and seen == [False]
    run(ip, "%carbon config quiet panel")
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "%config CarbonMagic" in lines["quiet"] and "%config CarbonMagic" in lines["panel"]


# -- listeners and help --------------------------------------------------------------------------


def test_listeners_hear_every_window_and_a_failing_one_breaks_nothing(ip):
    events = []

    class Panel:
        def cell_started(self, window):
            events.append(("started", window.label, window.tracker.running, window.panel))

        def cell_finished(self, record, data):
            events.append(("finished", record.label, data.run_id == record.run_id))

    class Broken:
        def cell_finished(self, record, data):
            raise ValueError("widget gone")

    session = get_session(ip)
    session.add_listener(Panel())
    session.add_listener(Broken())
    assert run(ip, "%%carbon --name watched --no-panel --quiet\nx = 1").success
    assert events == [("started", "watched", True, False), ("finished", "watched", True)]
    assert any(p.where == "listener Broken.cell_finished" for p in problems.all())


def test_help_is_short_with_the_common_options_and_examples_first(ip):
    line_doc = ip.find_line_magic("carbon").__doc__
    cell_doc = ip.find_cell_magic("carbon").__doc__
    for subcommand in ("on", "off", "start", "stop", "status", "report", "plot", "config", "export"):
        assert f"%carbon {subcommand}" in line_doc
    for doc in (line_doc, cell_doc):
        assert len(doc.splitlines()) <= 40
        assert "Examples::" in doc and "%carbon --help-all" in doc
        common = doc[doc.index("Common options:"):]
        for option in ("--name LABEL", "--quiet", "--no-panel", "--no-sync", "--pue NUMBER",
                       "--country-iso-code TEXT", "--tracking-mode machine|process", "--offline [true|false]"):
            assert option in common


def test_help_all_lists_every_parameter_and_option(ip, capsys):
    from carbon_magic.core.params import MAGIC_OPTIONS, PARAMS

    capsys.readouterr()
    assert run(ip, "%carbon --help-all").success
    full = capsys.readouterr().out
    assert full.startswith(ip.find_line_magic("carbon").__doc__.splitlines()[0])
    for param in PARAMS.values():
        if param.per_cell and not param.secret:
            assert f"\n    {param.option} " in full or f"\n    {param.option}\n" in full, param.name
        else:  # secrets and kernel-wide parameters: named, with where to set them
            assert f"\n    {param.name}\n" in full, param.name
    for flag, _ in [flag for param in (*PARAMS.values(), *MAGIC_OPTIONS.values()) for flag in param.flags]:
        assert f"\n    {flag}\n" in full
    assert "unknown option --help (did you mean --help-all?)" in str(run(ip, "%%carbon --help\nx = 1").error_in_exec)


@pytest.mark.parametrize("option", ["--api-key", "--electricitymaps-api-token", "--co2-signal-api-token"])
def test_secret_options_are_refused_and_leave_no_trace_in_the_input_history(ip, capsys, option):
    from carbon_magic.core.params import PARAMS

    secret = "tok-5ecret-in-a-line"
    count = len(records(ip))
    result = run(ip, f"%%carbon {option}={secret} --quiet\nran = True")
    message = str(result.error_in_exec)
    name = option[2:].replace("-", "_")
    assert PARAMS[name].secret and isinstance(result.error_in_exec, UsageError)
    for place in (f"%%carbon: {option} is refused", f"%config CarbonMagic.{name} = '...'",
                  f"environment variable CODECARBON_{name.upper()}", f"'{name} = ...' in the [codecarbon] section"):
        assert place in message
    assert "ran" not in ip.user_ns and len(records(ip)) == count
    assert secret not in message + "".join(capsys.readouterr())
    history = ip.history_manager
    kept = [ip.user_ns["In"], ip.user_ns["_ih"], history.input_hist_raw, history.db_input_cache,
            {k: v for k, v in ip.user_ns.items() if k.startswith("_i")}]
    assert secret not in repr(kept) and f"{option}=*** --quiet" in history.input_hist_raw[-1]


def test_every_secret_of_the_table_is_refused_as_an_option():
    from carbon_magic.core.params import PARAMS
    from carbon_magic.ipython.options import parse_options

    secrets = [param for param in PARAMS.values() if param.secret]
    assert secrets
    for param in secrets:
        with pytest.raises(UsageError, match=f"{param.option} is refused"):
            parse_options(f"{param.option} x", "%carbon on")


def test_core_and_loading_stay_free_of_heavy_imports(isolated):
    """What ``%load_ext``, its background discovery and a first tracked cell import: no UI or
    data library, and nothing they do not need (each costs every load milliseconds)."""
    import subprocess
    import sys

    from carbon_magic.core.meters.nvml import LINUX_DRIVER_FILES

    not_needed = {
        "pandas", "plotly", "requests",
        "asyncio",  # 40 ms; a kernel has it, a terminal not (the tail imports it in a kernel)
        "subprocess",  # platform.platform()'s `uname -p` (the os column is made without it on Linux)
        "configparser",  # no .codecarbon.config here
        "secrets",  # telemetry's local salt, made when first needed
        "statistics",  # a GPU counter's median, with fractions and decimal behind it
        "difflib",  # "did you mean" of a bad name
        "zipfile",  # importlib.resources' readers: packaged data and tzdata are read by path
        # no Dask or Ray imported: no cluster monitor (nor its threads)
        "carbon_magic.cluster.footprint", "carbon_magic.cluster.monitor",
        # drawing a panel: on the panel lane, by the first panel shown
        "carbon_magic.ipython.panel.chart_png", "carbon_magic.ipython.panel.panel_view",
        "carbon_magic.ipython.panel.session_view", "carbon_magic.ipython.panel.plot",
    }
    if not any(os.path.exists(path) for path in LINUX_DRIVER_FILES):
        not_needed.add("pynvml")  # 10 ms, and NVML cannot start without NVIDIA's driver
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        if "core id" in handle.read():
            not_needed.add("psutil")  # the physical cores and memory are read from /proc
    probe = (
        "import sys, contextlib, io\n"
        "import carbon_magic, carbon_magic.core.tracker\n"
        "assert not {'IPython', 'pandas', 'plotly', 'ipywidgets'} & set(sys.modules), 'core imported a UI library'\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "from carbon_magic.ipython import extension\n"
        "shell = InteractiveShell.instance()\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    shell.run_line_magic('load_ext', 'carbon_magic')\n"
        "extension._loaded[id(shell)].warmup.join()\n"
        "assert shell.run_cell('%%carbon --quiet\\nx = 1').success\n"
        # the location (time zone, then an IP lookup that fails offline) resolves in the background
        "from carbon_magic.runtime import current_runtime\n"
        "assert current_runtime().location.wait_resolved(30)\n"
        f"print(sorted(set({sorted(not_needed)!r}) & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=isolated)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- GPU cells: provisional, then final ------------------------------------------------------------


def test_gpu_cell_record_becomes_final_and_its_row_is_written_once(ip, monkeypatch, isolated):
    from carbon_magic.core.sampler import settler
    from carbon_magic.runtime import current_runtime
    from tests.fakes.fake_pynvml import FakeGpu, install
    from tests.fakes.profiles import Constant

    ip.extension_manager.unload_extension("carbon_magic")
    current_runtime().samplers.close()
    install(monkeypatch, [FakeGpu(Constant(600.0), update_s=0.1)])
    ip.run_line_magic("load_ext", "carbon_magic")
    finalized = []

    class Listener:
        def cell_finalized(self, record, data):
            finalized.append(record)

    get_session(ip).add_listener(Listener())
    time.sleep(settler.GPU_LEARN_S)
    assert run(ip, "%%carbon --quiet --name gpu-cell\nimport time; time.sleep(0.3)").success
    assert records(ip)[-1].provisional  # the counter's next update is still ahead
    eventually(lambda: finalized, timeout_s=3)
    [final] = finalized
    assert not final.provisional and records(ip)[-1] is final
    assert final.gpu_energy_kwh * 3.6e6 == pytest.approx(600.0 * final.duration_s, rel=0.01)
    drain_outputs()
    _, rows = read_csv(isolated / "carbon_cells.csv")
    assert [row["label"] for row in rows] == ["gpu-cell"]
    assert float(rows[0]["gpu_energy"]) == final.gpu_energy_kwh


# -- %carbon telemetry -----------------------------------------------------------------------------


def test_telemetry_subcommand_shows_stores_and_previews(ip, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    run(ip, "%carbon telemetry")
    assert "disabled" in capsys.readouterr().out  # nobody chose: nothing is sent
    run(ip, "%carbon telemetry minimal")
    run(ip, "%carbon telemetry")
    assert "minimal" in capsys.readouterr().out
    run(ip, "%carbon telemetry preview")
    preview = capsys.readouterr().out
    assert '"telemetry_level": "minimal"' in preview and '"total_emissions_kg"' not in preview
    assert not run(ip, "%carbon telemetry loudly").success


def test_telemetry_is_kernel_wide_not_a_cell_option(ip):
    assert not run(ip, "%%carbon --telemetry extensive\nx = 1").success


def test_cells_can_go_to_the_outputs_as_tasks_of_one_run(ip, isolated):
    ip.run_line_magic("config", "CarbonMagic.cells_as_tasks = True")
    ip.run_line_magic("config", "CarbonMagic.experiment_name = 'nb'")
    run(ip, "%%carbon --quiet --name load\nx = 1")
    run(ip, "%%carbon --quiet --name train\ny = 2")
    drain_outputs()
    [task_file] = isolated.glob("emissions_nb_*.csv")
    assert task_file.name == f"emissions_nb_{get_session(ip).run_id}.csv"
    _, rows = read_csv(task_file)
    assert [row["task_name"] for row in rows] == ["load", "train"]


def test_no_sync_option_turns_framework_synchronisation_off(ip):
    from carbon_magic.ipython.options import parse_options

    options, _ = parse_options("--no-sync --quiet", "%%carbon")
    assert dict(options.parameters) == {"sync_frameworks": False}
    assert run(ip, "%%carbon --no-sync --quiet\nx = 1").success
    assert get_session(ip).pool.config(options)["sync_frameworks"] is False
