"""The magics' help, its option lists generated from the parameter table.

``%carbon?`` and ``%%carbon?`` show a short help (what, how, the common options, examples:
under 40 lines); ``%carbon --help-all`` prints the whole help with every option, grouped
like the table, and the parameters that are no options (secrets, kernel-wide settings,
Python objects) with where to set them. (Like ``ipython --help`` / ``ipython --help-all``.)
"""

from __future__ import annotations

import textwrap

from ..core.config import CONFIG_FILE_NAME
from ..core.params import MAGIC_OPTIONS, PARAMS, Param
from .options import GROUP_TITLES, OptionSpec, option_specs

USAGE = """Usage::

  %carbon [options] STATEMENT     track one statement, like %time (x = %carbon f() works)
  %%carbon [options]              track this whole cell (see %%carbon?)
  %carbon on [options]            track every following cell (%carbon off to stop)
  %carbon start [NAME] [options]  start a span across cells (spans may overlap)
  %carbon stop [NAME]             stop the named span (default: the latest started)
  %carbon status                  what is measured and how, location, errors so far
  %carbon report [hosts]          a pandas DataFrame, one row per tracked cell or span (or per host)
  %carbon plot                    a figure: energy and CO2 per cell, by component
  %carbon panel                   this kernel's totals and a bar per tracked cell
  %carbon config [NAME...]        every parameter's value and where it came from
  %carbon export PATH             the report to PATH (.csv, .json or .html)
  %carbon telemetry [LEVEL|preview]  the usage-telemetry tier (shown, stored, previewed)
  %carbon --help-all              all of this help, with every option ({count} parameters)
"""

LINE_INTRO = "Track energy, CO2 and water: one statement, every cell, or a span of cells."

LINE_SHORT = """After a tracked cell, a summary shows its duration, energy, CO2, water and power by
component; a cell running over a second shows a live panel meanwhile (JupyterLab, Notebook 7,
VS Code, Colab). Each is a row of emissions.csv (CodeCarbon's columns) and carbon_cells.csv.
Settings: these options > %config CarbonMagic.NAME > CODECARBON_NAME > .codecarbon.config.
"""

LINE_EXAMPLES = """Examples::

  %carbon sum(i * i for i in range(10_000_000))
  %carbon on --country-iso-code FRA --quiet
  %carbon start training        (cells...)        %carbon stop training
  df = %carbon report
"""

LINE_DETAILS = """Use %%carbon (two %) to track one whole cell. After a tracked cell or statement, a
summary shows its duration, energy, CO2, water, average power by component and where the
carbon intensity came from (use --quiet to hide it). A statement's value is returned,
so ``x = %carbon f()`` works; ``df = %carbon report`` keeps the report. ``%carbon telemetry
[LEVEL|preview [LEVEL]|host-hash on|off]``: LEVEL (disabled, minimal, extensive) stores
your choice; preview shows the exact JSON that would be sent.

Live panel: in JupyterLab, Notebook 7, VS Code and Colab, a tracked cell that runs longer
than ``panel_update_secs`` (1 s) shows its energy, CO2, water, power per component and
a chart growing in its output, then freezes on the final figures (which stay in the
notebook as the summary). Options: --no-panel (this cell), --panel-update-secs,
--panel-equivalents false (no "driving a car 3 cm" line), --panel-widgets
auto|always|never. Elsewhere (terminal, nbconvert, papermill) the summary is static.

Every tracked cell, statement or span is one run in ``emissions.csv`` (CodeCarbon's 38
columns) and one row in ``carbon_cells.csv`` beside it, which names the cell (label,
execution count, cell id, first line of code, status ok/failed/interrupted).

Words after ``%carbon`` that are subcommands are read as such; to track a statement that
starts with one (a variable named ``status``), put ``--`` first: ``%carbon -- status``.

Configuration, highest priority first: these options; ``%config CarbonMagic.NAME = VALUE``
or ``c.CarbonMagic.NAME`` in ipython_config.py; ``CODECARBON_NAME`` environment variables;
``./.codecarbon.config``; ``~/.codecarbon.config``; the defaults. ``%carbon config`` shows
what applies and why. Secrets (API keys, tokens) are no options: a magic line is saved in
the notebook; set them by %config, the environment or the config file.

Examples::

  In [1]: %load_ext carbon_magic
  In [2]: %carbon sum(i * i for i in range(10_000_000))
  carbon: statement 2 | 612 ms | 4.12 mWh | 1.96 mg CO2e | ...
  Out[2]: 333333283333335000000

  In [3]: %carbon on --country-iso-code FRA
  In [4]: %carbon start training
  ...
  In [9]: %carbon stop training
  In [10]: df = %carbon report
  In [11]: %carbon plot
  In [12]: %carbon panel
  In [13]: %carbon export results/cells.csv
"""

CELL_HELP = """Track the energy, CO2 and water of this cell.

Usage::

  %%carbon [options]
  <the cell's code>

The cell runs exactly as it would untracked (its value, ``;``, top-level ``await``,
tracebacks); its own exceptions and KeyboardInterrupt propagate unchanged and the cell is
still recorded (failed or interrupted). Invalid options stop the cell before it runs.
While it runs longer than ``panel_update_secs`` (1 s), a live panel shows the energy, CO2
and water so far; after it, a summary (a live panel freezes into it). It is one run in
``emissions.csv``, one row in ``carbon_cells.csv`` and in ``%carbon report``; under
``%carbon on`` it is counted once, with the options given here.

{common}

%carbon? tells the rest; %carbon --help-all lists every option.

Examples::

  %%carbon --name "grid search" --country-iso-code FRA --pue 1.2
  search.fit(X, y)

  %%carbon --tracking-mode process --quiet
  result = simulate(steps=10_000)
"""


def line_help() -> str:
    """``%carbon?``: what, how, the common options and examples (the short help)."""
    usage = USAGE.format(count=len(PARAMS))
    return f"{LINE_INTRO}\n\n{usage}\n{LINE_SHORT}\n{common_options_help()}\n\n{LINE_EXAMPLES}"


def cell_help() -> str:
    """``%%carbon?``: the short help of the cell magic."""
    return CELL_HELP.format(common=common_options_help())


def full_help() -> str:
    """``%carbon --help-all``: the whole help, with every option."""
    usage = USAGE.format(count=len(PARAMS))
    return f"{LINE_INTRO}\n\n{usage}\n{LINE_DETAILS}\n{options_help()}\n"


def options_help() -> str:
    """Every option, grouped like the table (``%carbon --help-all``); secrets are no options."""
    lines = ["Options (every tracker parameter, plus the magics' own):", ""]
    groups: dict[str, list[OptionSpec]] = {}
    for spec in option_specs():
        if not spec.param.secret:
            groups.setdefault(spec.param.group, []).append(spec)
    for group, specs in groups.items():
        lines.append(f"  {GROUP_TITLES.get(group, group)}:")
        for spec in specs:
            lines += _option_lines(spec.head, spec.help)
        lines.append("")
    for title, params in _not_options().items():
        lines += [f"  Not options: {title}:"]
        for param in params:
            lines += _option_lines(param.name, param.help)
        lines.append("")
    return "\n".join(lines)


def _not_options() -> dict[str, list[Param]]:
    """The tracker parameters that are no magic option, by why, with where to set them."""
    return {
        f"secrets (a magic line is saved in the notebook): %config CarbonMagic.NAME, CODECARBON_NAME "
        f"or {CONFIG_FILE_NAME}": [p for p in PARAMS.values() if p.secret],
        "kernel-wide: %config CarbonMagic.NAME, CODECARBON_NAME or the config file":
            [p for p in PARAMS.values() if p.from_text and not p.per_cell],
        "Python objects: a tracker argument, or c.CarbonMagic.NAME in ipython_config.py":
            [p for p in PARAMS.values() if not p.from_text],
    }


def common_options_help() -> str:
    """The common options (the table's entries with a ``short`` help), one line each."""
    lines = ["Common options:"]
    for param in [p for p in (*MAGIC_OPTIONS.values(), *PARAMS.values()) if p.short]:
        spec = [s for s in option_specs() if s.param is param][-1]  # its flag, if it has one
        lines.append(f"  {spec.head:<30} {param.short}")
    return "\n".join(lines)


def _option_lines(head: str, help_text: str) -> list[str]:
    wrapped = textwrap.wrap(help_text, 72)
    return [f"    {head}"] + [f"        {line}" for line in wrapped]
