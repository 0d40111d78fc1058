"""Bad configuration: malformed ``.codecarbon.config`` files and ``CODECARBON_*`` values
(fuzzed with hypothesis), unicode and very long names, values that look like spreadsheet
formulas.

The rule: bad configuration is the one thing that fails loudly, with a ConfigError that names
the parameter or file, where the value came from and what is accepted, never a traceback from
deep inside; anything else is accepted cleanly and written so that it reads back the same.
"""

from __future__ import annotations

import csv
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
