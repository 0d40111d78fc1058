"""Bad configuration: malformed ``.codecarbon.config`` files and ``CODECARBON_*`` values
(fuzzed with hypothesis), unicode and very long names, values that look like spreadsheet
formulas.

The rule: bad configuration is the one thing that fails loudly, with a ConfigError that names
the parameter or file, where the value came from and what is accepted, never a traceback from
deep inside; anything else is accepted cleanly and written so that it reads back the same.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbon_magic.core.config import CONFIG_FILE_NAME, ConfigError, resolve_config
from carbon_magic.core.params import PARAMS
from carbon_magic.core.record import CSV_COLUMNS
from carbon_magic.outputs.cells_file import CELLS_CSV_COLUMNS, CELLS_FILE_NAME

from .harness import whole_rows

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NAMES = sorted(PARAMS)
# Text that parsers trip over: numbers in odd spellings, booleans, lists, INI syntax, escapes.
TRICKY = st.sampled_from([
    "", " ", "0", "-1", "1e309", "nan", "inf", "-inf", "0x10", "1_000", "True", "no", "yes", "none", "None",
    "[", "]", "[codecarbon]", "=", "%(x)s", "${HOME}", "\\", "'", '"', ",", ",,", "a,b", "cpu,gpu", "\t",
    "FRA", "fr", "ZZZ", "http://", "http://127.0.0.1:1", "file:///etc/passwd", "../../x", "é", "🌍", "\u202e",
    "9" * 400,
])
# What every ConfigError ends with: what would be accepted instead.
GUIDES = ("Accepted:", "Expected an INI file", "cannot be set from text", "Valid parameters:")
VALUES = st.one_of(TRICKY, st.text(max_size=60), st.text(alphabet=st.characters(codec="utf-8"), max_size=20))


def file_line(name: str, value: str) -> str:
    return f"{name} = {value}".replace("\n", " ").replace("\r", " ")


ini_text = st.one_of(
    st.text(max_size=300),  # anything at all
    st.lists(st.tuples(st.sampled_from(NAMES + ["not_a_parameter", "PUE", "[codecarbon]"]), VALUES), max_size=6).map(
        lambda pairs: "[codecarbon]\n" + "\n".join(file_line(name, value) for name, value in pairs) + "\n"),
    st.binary(max_size=200).map(lambda raw: "[codecarbon]\npue = " + raw.decode("latin-1")),
)


@pytest.mark.reliability(area="configuration")
@FUZZ
@given(text=ini_text)
def test_fuzzed_config_files_give_a_clear_error_or_a_clean_config(isolated, figures, text):
    """Any .codecarbon.config content (random text, random [codecarbon] lines, bytes that are
    not UTF-8) resolves cleanly or raises a ConfigError that names the file and what it expects."""
    figures.inputs_tried += 1
    path = isolated / CONFIG_FILE_NAME
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        config = resolve_config()
    except ConfigError as error:
        message = str(error)
        assert str(path) in message, message
        assert any(guide in message for guide in GUIDES), message
    else:
        assert set(config) == set(PARAMS)


@pytest.mark.reliability(area="configuration")
@FUZZ
@given(name=st.sampled_from(NAMES), value=VALUES.map(lambda v: v.replace("\x00", "")))
def test_fuzzed_environment_variables_give_a_clear_error_or_a_clean_config(figures, name, value):
    """Any CODECARBON_<PARAMETER> value is accepted cleanly or refused with a ConfigError naming
    the parameter, the variable and what is accepted; a secret's value is never shown."""
    figures.inputs_tried += 1
    variable = "CODECARBON_" + name.upper()
    try:
        config = resolve_config(environ={variable: value})
    except ConfigError as error:
        message = str(error)
        assert f"'{name}'" in message and variable in message, message
        assert any(guide in message for guide in GUIDES), message
        if PARAMS[name].secret and len(value) >= 4:
            assert value not in message
    else:
        assert set(config) == set(PARAMS)


def test_malformed_config_file_mid_session(open_notebook, figures):
    """A .codecarbon.config broken by hand mid-session: tracked cells are refused with one clear
    line naming the file (no traceback), plain cells run on, status shows the problem; once the
    file is fixed, tracking resumes with whole records."""
    figures.fault("'[codecarbon' (no closing bracket) then 'pue = banana' written to ./.codecarbon.config")
    notebook = open_notebook()
    notebook.run("%%carbon --quiet\n1", expect=1)
    for broken in ("[codecarbon\npue = 1.1\n", "[codecarbon]\npue = banana\n"):
        Path(CONFIG_FILE_NAME).write_text(broken, encoding="utf-8")
        refused = notebook.shell.run_cell("%%carbon --quiet\n2", store_history=True)
        assert type(refused.error_in_exec).__name__ == "UsageError", refused.error_in_exec
        message = str(refused.error_in_exec)
        assert CONFIG_FILE_NAME in message and ("Expected an INI file" in message or "Accepted: a number >= 1" in message)
        notebook.run("3 * 3", expect=9)
        assert "Configuration problem" in notebook.status()
    Path(CONFIG_FILE_NAME).write_text("[codecarbon]\npue = 1.1\n", encoding="utf-8")
    notebook.run("%%carbon --quiet\n4", expect=4)
    notebook.rows_are_whole()


UNICODE_NAME = "Ünïcødé 🌍 プロジェクト \u202edir-rtl, \"quoted\"\ttab ; " + "é" * 5000


def raw_fields(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [dict(zip(columns, fields)) for fields in list(csv.reader(handle))[1:]]


def test_unicode_and_very_long_project_names(open_notebook, figures):
    """A project name of 5,000+ characters with emoji, right-to-left marks, quotes, commas and
    tabs: cells run, and both CSV files give the name back exactly, in whole rows."""
    figures.fault("CODECARBON_PROJECT_NAME of 5,047 characters: emoji, RTL override, quotes, comma, tab")
    notebook = open_notebook(CODECARBON_PROJECT_NAME=UNICODE_NAME)
    notebook.run("%%carbon --quiet --name 'étape 🌱 1'\n'ok'", expect="ok")
    notebook.run("%%carbon --quiet\n'ok'", expect="ok")
    notebook.rows_are_whole()
    assert {row["project_name"] for row in whole_rows(Path("emissions.csv"))} == {UNICODE_NAME}
    cells = whole_rows(Path(CELLS_FILE_NAME), CELLS_CSV_COLUMNS)
    assert {row["project_name"] for row in cells} == {UNICODE_NAME}
    assert cells[0]["label"] == "étape 🌱 1"


FORMULAS = ["=HYPERLINK(\"http://127.0.0.1/x\",\"click\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_values_that_look_like_spreadsheet_formulas_are_written_as_text(open_notebook, figures, formula):
    """Project names, labels and cell lines that start like a spreadsheet formula (= + - @) are
    written with a leading ' so a spreadsheet shows them as text instead of running them."""
    figures.fault(f"project name, span label and a cell's first line: {formula!r}")
    notebook = open_notebook(CODECARBON_PROJECT_NAME=formula)
    notebook.run(f"%%carbon --quiet --name={formula!r}\n'ok'", expect="ok")
    notebook.run("%%carbon --quiet\n-1 + 2", expect=1)
    notebook.rows_are_whole()
    for row in raw_fields(Path("emissions.csv"), CSV_COLUMNS):
        assert row["project_name"] == "'" + formula
    labelled, negative = raw_fields(Path(CELLS_FILE_NAME), CELLS_CSV_COLUMNS)
    assert labelled["label"] == "'" + formula
    assert negative["first_line"] == "'-1 + 2"
    for row in (labelled, negative):
        assert not any(value.startswith(("=", "+", "-", "@")) for name, value in row.items()
                       if name not in ("emissions", "duration", "longitude", "latitude")), row


# --- values refused when set, not when a cell runs (issue 15) ------------------------------------


def refused_by_config_magic(notebook, assignment: str) -> str:
    """``%config CarbonMagic.<assignment>``: it must be refused (IPython shows the refusal as
    an error log line) and leave the parameter as it was; the message shown."""
    name = assignment.split("=", 1)[0].strip()
    before = getattr(notebook.session.settings, name)
    shown: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = shown.append
    logging.getLogger().addHandler(handler)
    try:
        notebook.shell.run_cell(f"%config CarbonMagic.{assignment}", store_history=True)
    finally:
        logging.getLogger().removeHandler(handler)
    assert shown, f"%config CarbonMagic.{assignment} was accepted"
    assert getattr(notebook.session.settings, name) == before
    return "\n".join(record.getMessage() for record in shown)


def assert_clear(message: str, name: str, shown_value: str, source: str, accepted: str) -> None:
    """A ConfigError's message names the parameter, the value, its source and what is accepted."""
    assert f"'{name}'" in message and shown_value in message and source in message, message
    assert f"Accepted: {accepted}" in message, message


class NotAnOutput:
    """An object with none of the output methods."""


HANDLERS_ACCEPTED = "a list of output objects, each with one or more of the methods out, live_out"


# A value as %config writes it, and the start of how the error shows it.
NOT_HANDLERS = {"5": "Invalid value 5 ", "'csv'": "Invalid value 'csv' ", "[NotAnOutput()]": "Invalid value [<",
                "{'out': print}": "Invalid value {'out': <built-in function print>} "}


@pytest.mark.parametrize("value", sorted(NOT_HANDLERS))
def test_output_handlers_that_are_not_outputs_are_refused_when_set(open_notebook, figures, value):
    """`output_handlers` that is not a list of output objects (5, a string, an object without
    out/live_out/task_out/exit) is refused when set, by `%config` and by `EmissionsTracker`,
    naming the parameter, the value, its source and what is accepted; tracked cells still run."""
    figures.fault(f"output_handlers = {value} by %config CarbonMagic and by EmissionsTracker(...)")
    from carbon_magic import EmissionsTracker

    notebook = open_notebook()
    notebook.shell.user_ns["NotAnOutput"] = NotAnOutput
    message = refused_by_config_magic(notebook, f"output_handlers = {value}")
    assert_clear(message, "output_handlers", NOT_HANDLERS[value], "%config CarbonMagic", HANDLERS_ACCEPTED)
    notebook.run("%%carbon --quiet\n6 * 7", expect=42)
    notebook.run("%carbon 6 * 7", expect=42)
    with pytest.raises(ConfigError) as refused:
        EmissionsTracker(output_handlers=eval(value, {"NotAnOutput": NotAnOutput}), save_to_file=False)
    assert_clear(str(refused.value), "output_handlers", NOT_HANDLERS[value], "argument", HANDLERS_ACCEPTED)
    notebook.rows_are_whole()


NUMBERS = sorted(name for name, param in PARAMS.items() if param.kind in ("float", "int"))


def test_every_numeric_parameter_has_an_upper_bound():
    """Every numeric parameter has a sane upper bound in the parameter table, said in what it
    accepts (a huge number is refused when set, never kills a background thread later)."""
    unbounded = [name for name in NUMBERS if PARAMS[name].maximum is None]
    assert unbounded == []
    for name in NUMBERS:
        assert f"<= {PARAMS[name].maximum:g}" in PARAMS[name].accepted()


@pytest.mark.parametrize("name", NUMBERS)
def test_huge_numbers_are_refused_when_set(open_notebook, figures, name):
    """1e308 (or 10**18 for whole numbers) for any numeric parameter, as a magic option, a
    `CODECARBON_*` variable or a `.codecarbon.config` line, is refused with the parameter, the
    value, the source and the accepted range; the cell does not run with it and later cells do."""
    huge = "1e308" if PARAMS[name].kind == "float" else str(10**18)
    figures.fault(f"{name} = {huge} by magic option, environment variable and config file")
    option = name.replace("_", "-")
    notebook = open_notebook()
    refused = notebook.shell.run_cell(f"%%carbon --quiet --{option} {huge}\n'never'", store_history=True)
    assert type(refused.error_in_exec).__name__ == "UsageError", refused.error_in_exec
    assert_clear(str(refused.error_in_exec), name, huge, f"magic option --{option}", PARAMS[name].accepted())
    with pytest.raises(ConfigError) as from_env:
        resolve_config(environ={PARAMS[name].env_var: huge})
    assert_clear(str(from_env.value), name, huge, f"environment variable {PARAMS[name].env_var}",
                 PARAMS[name].accepted())
    Path(CONFIG_FILE_NAME).write_text(f"[codecarbon]\n{name} = {huge}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as from_file:
        resolve_config(environ={})
    assert_clear(str(from_file.value), name, huge, CONFIG_FILE_NAME, PARAMS[name].accepted())
    Path(CONFIG_FILE_NAME).unlink()
    notebook.run("%%carbon --quiet\n'runs'", expect="runs")
    notebook.rows_are_whole()


def test_the_largest_accepted_numbers_keep_cells_and_threads_alive(open_notebook, figures):
    """The largest accepted panel interval, sampling interval and PUE work: cells give their
    values, no background thread dies, and the figures stay plain numbers."""
    figures.fault("--panel-update-secs, --measure-power-secs and --pue at their upper bounds")
    import threading

    notebook = open_notebook()
    bounds = {name: PARAMS[name].maximum for name in ("panel_update_secs", "measure_power_secs", "pue")}
    options = " ".join(f"--{name.replace('_', '-')} {value:g}" for name, value in bounds.items())
    died = []
    previous_hook = threading.excepthook
    threading.excepthook = lambda arguments: died.append(arguments)
    try:
        for index in range(3):
            notebook.run(f"%%carbon {options}\nimport time\ntime.sleep(0.2)\n{index}", expect=index)
    finally:
        threading.excepthook = previous_hook
    assert died == []
    notebook.rows_are_whole()
    assert all(len(f"{row['emissions']}") < 30 for row in whole_rows(Path("emissions.csv")))
    assert {row["pue"] for row in whole_rows(Path("emissions.csv"))} == {"10.0"}


# --- where records may be written (issue 15) -----------------------------------------------------

OUTPUT_FILE_ACCEPTED = PARAMS["output_file"].accepted()
OUTPUT_DIR_ACCEPTED = PARAMS["output_dir"].accepted()


@pytest.mark.parametrize("output_file", ["../home/notes.txt", "/tmp/elsewhere.csv", "sub/dir.csv", "..", "",
                                         "a\\b.csv"])
def test_output_file_is_a_file_name_never_a_path(open_notebook, isolated, figures, output_file):
    """An `output_file` with a folder in it (`../home/notes.txt` in a cloned repository's
    ./.codecarbon.config, an absolute path, `sub/dir.csv`, `..`, '') is refused when read, with
    the file, the value and what is accepted; nothing outside the folder is renamed or written."""
    figures.fault(f"output_file = {output_file!r} in ./.codecarbon.config")
    notes = isolated.parent / "home" / "notes.txt"
    notes.write_text("my notes\n", encoding="utf-8")
    Path(CONFIG_FILE_NAME).write_text(f"[codecarbon]\noutput_file = {output_file}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        resolve_config()
    assert_clear(str(refused.value), "output_file", repr(output_file), CONFIG_FILE_NAME, OUTPUT_FILE_ACCEPTED)
    notebook = open_notebook()
    refused_cell = notebook.shell.run_cell("%%carbon --quiet\n'never'", store_history=True)
    assert type(refused_cell.error_in_exec).__name__ == "UsageError"
    assert notes.read_text(encoding="utf-8") == "my notes\n"
    assert sorted(p.name for p in notes.parent.iterdir()) == ["notes.txt"]
    assert not Path("/tmp/elsewhere.csv").exists()
    Path(CONFIG_FILE_NAME).unlink()
    notebook.run("%%carbon --quiet\n'runs'", expect="runs")
    notebook.rows_are_whole()


def test_an_experiment_name_never_takes_task_files_out_of_the_folder(isolated, figures):
    """An `experiment_name` with '/' or '..' names task files inside output_dir (sanitised for
    file names), never outside it."""
    figures.fault("experiment_name = '../../escaped/x y' with tasks")
    from carbon_magic import OfflineEmissionsTracker

    folder = isolated / "out"
    folder.mkdir()
    tracker = OfflineEmissionsTracker(country_iso_code="FRA", output_dir=str(folder), experiment_name="../../escaped/x y",
                                      powercap_root="/nonexistent", log_level="error")
    tracker.start()
    tracker.start_task("step")
    tracker.stop_task()
    tracker.stop()
    everything = sorted(str(p.relative_to(isolated.parent)) for p in isolated.parent.rglob("*") if p.is_file())
    task_files = [name for name in everything if "emissions_" in name]
    assert len(task_files) == 1 and task_files[0].startswith("work/out/emissions_") and "escaped" in task_files[0]
    assert len(whole_rows(folder / "emissions.csv")) == 1


def test_a_file_that_is_not_a_records_file_is_never_renamed_or_overwritten(open_notebook, figures):
    """An existing `output_file` that is not a records file (a user's notes: no CSV header of
    records) is refused when the outputs are made, named with what is accepted, and left exactly
    as it was: no `.bak`, no row appended; cells run on once another name is chosen."""
    figures.fault("output_file = notes.txt, an existing text file of the user's")
    notes = Path("notes.txt")
    notes.write_text("shopping: eggs, milk\nphone: 555-0100\n", encoding="utf-8")
    notebook = open_notebook(CODECARBON_OUTPUT_FILE="notes.txt")
    refused = notebook.shell.run_cell("%%carbon --quiet\n'never'", store_history=True)
    assert type(refused.error_in_exec).__name__ == "UsageError", refused.error_in_exec
    message = str(refused.error_in_exec)
    assert "output_file 'notes.txt' (from environment variable CODECARBON_OUTPUT_FILE)" in message, message
    assert "is not a records file" in message and "Accepted:" in message
    from carbon_magic.core.paths import CELLS_FILE_NAME as cells_name
    from carbon_magic.outputs.csv_file import append_rows, NotARecordsFile

    with pytest.raises(NotARecordsFile):  # a file that became notes after the outputs were made
        append_rows(notes, CSV_COLUMNS, [["x"] * len(CSV_COLUMNS)])
    assert notes.read_text(encoding="utf-8") == "shopping: eggs, milk\nphone: 555-0100\n"
    assert sorted(p.name for p in Path(".").iterdir()) == ["notes.txt"], cells_name
    notebook.run("%%carbon --quiet --output-file emissions.csv\n'runs'", expect="runs")


def test_a_records_file_of_another_layout_is_still_kept_as_bak(open_notebook, figures):
    """A records file with another header (an older CodeCarbon's) is kept as `.bak` as
    CodeCarbon does, and the new rows are whole."""
    figures.fault("emissions.csv with CodeCarbon 1.x's header")
    old = "timestamp,project_name,duration,emissions\n2020-01-01T00:00:00,old,1.0,0.1\n"
    Path("emissions.csv").write_text(old, encoding="utf-8")
    notebook = open_notebook()
    notebook.run("%%carbon --quiet\n1", expect=1)
    notebook.rows_are_whole()
    assert Path("emissions.csv.bak").read_text(encoding="utf-8") == old


@pytest.mark.parametrize("place", ["a file", "/proc", "a missing folder", "''"])
def test_bad_output_locations_fail_when_set(open_notebook, isolated, figures, place):
    """An `output_dir` that is a file, /proc, a missing path or '' is refused when set (magic
    option, %config, environment variable), with the parameter, the value, the source and what is
    accepted, instead of rows held in memory for good; the cell does not run with it."""
    figures.fault(f"output_dir = {place}")
    values = {"a file": str(isolated / "a-file"), "/proc": "/proc", "a missing folder": str(isolated / "missing" / "x"),
              "''": ""}
    (isolated / "a-file").write_text("x", encoding="utf-8")
    value = values[place]
    notebook = open_notebook()
    cell = notebook.shell.run_cell(f"%%carbon --quiet --output-dir {value!r}\n'never'", store_history=True)
    assert type(cell.error_in_exec).__name__ == "UsageError", cell.error_in_exec
    assert_clear(str(cell.error_in_exec), "output_dir", repr(value), "magic option --output-dir", OUTPUT_DIR_ACCEPTED)
    message = refused_by_config_magic(notebook, f"output_dir = {value!r}")
    assert_clear(message, "output_dir", repr(value), "%config CarbonMagic", OUTPUT_DIR_ACCEPTED)
    with pytest.raises(ConfigError) as from_env:
        resolve_config(environ={"CODECARBON_OUTPUT_DIR": value})
    assert_clear(str(from_env.value), "output_dir", repr(value), "CODECARBON_OUTPUT_DIR", OUTPUT_DIR_ACCEPTED)
    assert not (isolated / "missing").exists()
    notebook.run("%%carbon --quiet\n'runs'", expect="runs")
    notebook.rows_are_whole()


def test_the_per_cell_file_and_the_codecarbon_file_are_never_one_file(open_notebook, figures):
    """`output_file = carbon_cells.csv` (the per-cell file's name, any case) is refused when
    set: two writers with different headers never share a file, so no rows scatter into `.bak`
    files; the message says why."""
    figures.fault("--output-file carbon_cells.csv, CODECARBON_OUTPUT_FILE=Carbon_Cells.csv")
    notebook = open_notebook()
    cell = notebook.shell.run_cell("%%carbon --quiet --output-file carbon_cells.csv\n'never'", store_history=True)
    assert type(cell.error_in_exec).__name__ == "UsageError", cell.error_in_exec
    assert_clear(str(cell.error_in_exec), "output_file", "'carbon_cells.csv'", "magic option --output-file",
                 OUTPUT_FILE_ACCEPTED)
    assert "other than 'carbon_cells.csv' (the per-cell file beside it" in str(cell.error_in_exec)
    with pytest.raises(ConfigError):
        resolve_config(environ={"CODECARBON_OUTPUT_FILE": "Carbon_Cells.csv"})
    for index in range(3):
        notebook.run(f"%%carbon --quiet\n{index}", expect=index)
    notebook.rows_are_whole()
    assert not list(Path(".").glob("*.bak"))


# --- .codecarbon.config files that are not files (issue 15) --------------------------------------


@pytest.mark.parametrize("kind", ["named pipe", "link to /dev/zero", "larger than 1 MiB"])
def test_a_config_file_that_is_not_a_regular_small_file_is_refused_at_once(open_notebook, isolated, figures, kind):
    """A ./.codecarbon.config that is a named pipe (nobody writing), a symlink to /dev/zero or
    a file over 1 MiB is refused at once with a message naming the file and what is expected:
    tracker construction never hangs or runs out of memory."""
    import os
    import threading

    from carbon_magic import EmissionsTracker

    figures.fault(f"./.codecarbon.config is a {kind}")
    path = isolated / CONFIG_FILE_NAME
    if kind == "named pipe":
        os.mkfifo(path)
    elif kind == "link to /dev/zero":
        path.symlink_to("/dev/zero")
    else:
        path.write_text("[codecarbon]\n" + "# filler\n" * 150_000, encoding="utf-8")
    outcome: list[BaseException | None] = []

    def construct() -> None:
        try:
            EmissionsTracker(save_to_file=False)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 (the test reads it)
            outcome.append(error)

    thread = threading.Thread(target=construct, daemon=True)
    thread.start()
    thread.join(20)
    try:
        assert outcome, "tracker construction still hangs after 20 s"
        error = outcome[0]
        assert isinstance(error, ConfigError), repr(error)
        assert str(path) in str(error) and "Expected an INI file" in str(error), str(error)
    finally:
        if thread.is_alive():  # free the hung reader (main's behaviour) so the test run goes on
            with open(path, "w"):
                pass
        path.unlink()
    notebook = open_notebook()
    notebook.run("%%carbon --quiet\n'runs'", expect="runs")
    notebook.rows_are_whole()


# --- magic option errors (issue 15) --------------------------------------------------------------


def test_a_span_named_twice_is_refused_and_names_are_never_ignored(open_notebook, figures):
    """`%carbon start --name n1 n2` is refused with a clear message (never one name silently
    dropped); `--name n1` alone or `n1` alone name the span."""
    figures.fault("%carbon start --name n1 n2")
    notebook = open_notebook()
    refused = notebook.shell.run_cell("%carbon start --name n1 n2", store_history=True)
    assert type(refused.error_in_exec).__name__ == "UsageError", refused.error_in_exec
    assert "named twice" in str(refused.error_in_exec) and "'n1'" in str(refused.error_in_exec)
    assert notebook.session.spans == {}
    notebook.run("%carbon start --name n1 --quiet")
    notebook.run("%carbon start n2 --quiet")
    assert list(notebook.session.spans) == ["n1", "n2"]
    notebook.run("%carbon stop n1")
    notebook.run("%carbon stop n2")
    assert [record.label for record in notebook.records] == ["n1", "n2"]
    notebook.rows_are_whole()


@pytest.mark.parametrize("path", ["/proc/x.csv", "/proc/x.json", "{folder}/a-file/x.html"])
def test_export_to_a_place_that_cannot_be_written_is_a_clear_error(open_notebook, isolated, figures, path):
    """`%carbon export` to a path that cannot be written (/proc, below a file) is one clear
    line naming the path and what is accepted, not a traceback; the session goes on."""
    figures.fault(f"%carbon export {path}")
    (isolated / "a-file").write_text("x", encoding="utf-8")
    path = path.format(folder=isolated)
    notebook = open_notebook()
    notebook.run("%%carbon --quiet\n1", expect=1)
    refused = notebook.shell.run_cell(f"%carbon export {path}", store_history=True)
    assert type(refused.error_in_exec).__name__ == "UsageError", refused.error_in_exec
    assert f"cannot write {path!r}" in str(refused.error_in_exec), refused.error_in_exec
    notebook.run("%%carbon --quiet\n2", expect=2)
    notebook.rows_are_whole()
