"""The first-run question: which telemetry tier, if any.

Asked once, when the extension loads and no source has chosen a tier (see ``levels``):

- in an interactive Jupyter front end (a kernel whose front end can answer): a small
  ipywidgets widget with the three choices (a text question if ipywidgets is missing);
- in terminal IPython with a TTY: a text question;
- never under nbclient/papermill (their kernels get no stdin), in CI, or without a
  terminal: the tier then stays disabled and nothing is stored, so a person is asked later.

The answer is stored by the ``on_choice`` callback and never asked again. IPython and
ipywidgets are imported only here, and only when asking.
"""

from __future__ import annotations

import builtins
import html
import importlib.util
import sys
from typing import Any, Callable, Mapping, TextIO

from .environment import NONE, Probe, ci_environment
from .levels import DISABLED, EXTENSIVE, LEVELS, MINIMAL, PROMPT_TEXTS, VISIBILITY

WIDGET, TEXT = "widget", "text"

QUESTION_INTRO = ("May carbon_magic send anonymous usage telemetry to its maintainers? "
                  "Nothing is sent until you choose.")
# The details under the question: (words, command); text shows a command as it is typed,
# HTML as code.
DETAILS = (
    ("See the exact JSON first: ", "%carbon telemetry preview minimal"),
    ("Never sent: user or host names, paths, notebook names, code, secrets, precise location.", ""),
    ("Change it any time: ", "%carbon telemetry disabled|minimal|extensive"),
    ("Everything off: ", "DO_NOT_TRACK=1"),
)


def intro_text() -> str:
    return "\n".join([QUESTION_INTRO, *(f"  - {words}{command}" for words, command in DETAILS)])


def intro_html() -> str:
    items = "".join(f"<li>{html.escape(words)}{f'<code>{html.escape(command)}</code>' if command else ''}</li>"
                    for words, command in DETAILS)
    return f"<b>carbon_magic telemetry</b>: {html.escape(QUESTION_INTRO)}<ul style=\"margin:2px 0\">{items}</ul>"


QUESTION = "Your choice [1/2/3, Enter = 1]: "
_ANSWERS = {"1": DISABLED, "2": MINIMAL, "3": EXTENSIVE, "": DISABLED,
            **{level: level for level in LEVELS}}
MAX_TRIES = 3


def how_to_ask(shell: Any, environ: Mapping[str, str], stdin: TextIO | None = None) -> tuple[str | None, str]:
    """(WIDGET, TEXT or None, why): whether and how the first-run question can be asked."""
    ci = ci_environment(Probe(environ=environ))
    if ci != NONE:
        return None, f"not asked in CI ({ci})"
    if type(shell).__name__ == "ZMQInteractiveShell":
        # The front end says per request whether it can answer input(); nbclient and
        # papermill say no, JupyterLab, Notebook and VS Code say yes.
        if not getattr(getattr(shell, "kernel", None), "_allow_stdin", False):
            return None, "not asked: this kernel's client cannot answer (nbclient, papermill or no stdin)"
        if importlib.util.find_spec("ipywidgets") is not None:
            return WIDGET, "asked in the notebook"
        return TEXT, "asked in the notebook (text: ipywidgets is not installed)"
    stdin = sys.stdin if stdin is None else stdin
    try:
        interactive = stdin is not None and stdin.isatty()
    except (ValueError, OSError):  # a closed or odd stdin
        interactive = False
    if not interactive:
        return None, "not asked: no terminal to answer"
    return TEXT, "asked in the terminal"


def choices_text() -> str:
    lines = [f"  {number}) {level:<9}  {PROMPT_TEXTS[level]} ({VISIBILITY[level]})"
             for number, level in enumerate(LEVELS, start=1)]
    return "\n".join(lines)


def ask_text(
    on_choice: Callable[[str], str],
    read: Callable[[str], str] | None = None,
    write: Callable[[str], None] = print,
) -> str | None:
    """Ask in text; the chosen tier (after ``on_choice`` stored it), or None when the user
    gave no usable answer (end of input, Ctrl-C, or MAX_TRIES unknown answers).

    ``read`` defaults to ``input`` looked up now: a kernel replaces it while a cell runs."""
    read = read or builtins.input
    write(f"carbon_magic telemetry: {intro_text()}\n{choices_text()}")
    for _ in range(MAX_TRIES):
        try:
            answer = read(QUESTION)
        except (EOFError, KeyboardInterrupt):
            write("\ncarbon_magic telemetry: no answer, so disabled for now (you will be asked next time).")
            return None
        except Exception:  # StdinNotImplementedError and kin: nobody can answer
            return None
        level = _ANSWERS.get(answer.strip().lower())
        if level is not None:
            write(on_choice(level))
            return level
        write(f"Please answer 1, 2 or 3 (or {', '.join(LEVELS)}).")
    write("carbon_magic telemetry: no valid answer, so disabled for now (you will be asked next time).")
    return None


def show_widget(on_choice: Callable[[str], str]) -> Any:
    """Display the three-choice widget; a click stores the tier and replaces the buttons by
    what was stored. Returns the widget."""
    import ipywidgets as widgets
    from IPython.display import display

    intro = widgets.HTML(intro_html())
    box = widgets.VBox([intro])

    def answered(level: str) -> None:
        box.children = (intro, widgets.HTML(html.escape(on_choice(level))))

    buttons = []
    for level in LEVELS:
        button = widgets.Button(description=PROMPT_TEXTS[level], tooltip=f"{level}: {VISIBILITY[level]}",
                                layout=widgets.Layout(width="auto"))
        button.on_click(lambda _button, level=level: answered(level))
        buttons.append(button)
    box.children = (intro, widgets.HBox(buttons))
    bundle = dict(box._repr_mimebundle_() or {})  # the widget, and text where widgets do not render
    bundle["text/plain"] = (f"carbon_magic telemetry: {intro_text()}\n{choices_text()}\n"
                            "Answer with %carbon telemetry disabled|minimal|extensive")
    display(bundle, raw=True)
    return box


def ask(shell: Any, environ: Mapping[str, str], on_choice: Callable[[str], str],
        stdin: TextIO | None = None) -> tuple[str | None, str]:
    """Ask the first-run question if this front end can answer; (how it was asked, why)."""
    how, why = how_to_ask(shell, environ, stdin)
    if how == WIDGET:
        show_widget(on_choice)
    elif how == TEXT:
        ask_text(on_choice)
    return how, why
