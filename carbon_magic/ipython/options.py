"""The magics' command-line options, generated from the parameter table.

Every tracker parameter that can be written as text is an option in kebab-case
(``--pue 1.2 --country-iso-code FRA --tracking-mode process``); yes/no parameters take an
optional value (``--offline``, ``--save-to-file false``). Three options belong to the magics:
``--name LABEL``, ``--quiet`` and ``--no-panel``. Values are checked by the core's rules as
they are parsed, so a bad value is an argparse-style usage error carrying the core's message,
and the cell does not run.
"""

from __future__ import annotations

import argparse
import difflib
import re
import shlex
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NoReturn

from IPython.core.error import UsageError

from ..core.config import ConfigError, coerce
from ..core.params import PARAMS, Param

OPTION_SOURCE = "magic option"
_METAVARS = {
    "str": "TEXT", "float": "NUMBER", "int": "INTEGER", "bool": "[true|false]",
    "str_list": "A,B", "gpu_ids": "IDS", "log_level": "LEVEL", "handlers": "OBJECTS", "object": "OBJECT",
}
_GROUP_TITLES = {
    "general": "General", "output": "Outputs", "location": "Location and intensity", "hardware": "Hardware",
    "panel": "Live panel",
}
# Options that belong to the magics rather than to the tracker: (option, metavar, help).
MAGIC_OPTIONS = (
    ("--name", "LABEL", "Label of this cell or span in the report (default: 'cell N', 'span N')."),
    ("--quiet", "", "Print no summary after the cell (CarbonMagic.quiet does it for every cell)."),
    ("--no-panel", "", "Show no live panel for this cell (CarbonMagic.panel does it for every cell)."),
    ("--no-sync", "", "Do not wait for queued GPU work at this cell's boundaries (same as "
                      "--sync-frameworks false)."),
)


def metavar(param: Param) -> str:
    """How a parameter's value is written in help texts."""
    if param.kind == "choice":
        return "|".join(param.choices)
    return _METAVARS[param.kind]


# Parameters of the whole kernel, not of one tracked window: %config / env / files set them.
KERNEL_WIDE_GROUPS = ("telemetry",)


def text_parameters() -> list[Param]:
    """The parameters that magic options may set (objects such as a logger cannot be, nor
    kernel-wide settings such as telemetry: ``%carbon telemetry`` is their command)."""
    return [p for p in PARAMS.values() if p.from_text and p.group not in KERNEL_WIDE_GROUPS]


@dataclass(frozen=True)
class TrackOptions:
    """What one magic line asked for: tracker parameters plus the magics' own options.

    ``quiet`` and ``panel`` are None when the line did not say (the CarbonMagic traits decide).
    """

    parameters: tuple[tuple[str, Any], ...] = ()
    name: str | None = None
    quiet: bool | None = None
    panel: bool | None = None

    def parameter_dict(self) -> dict[str, Any]:
        return dict(self.parameters)


NO_OPTIONS = TrackOptions()


def _converter(param: Param):
    """argparse ``type=``: the core's conversion, its message as argparse's error."""
    source = f"{OPTION_SOURCE} {param.option}"

    def convert(text: str) -> Any:
        try:
            return coerce(param.name, text, source, text=True)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _add_tracking_options(parser: argparse.ArgumentParser) -> None:
    groups: dict[str, Any] = {}
    for param in text_parameters():
        group = groups.get(param.group)
        if group is None:
            group = groups[param.group] = parser.add_argument_group(_GROUP_TITLES.get(param.group, param.group))
        extra: dict[str, Any] = {"nargs": "?", "const": "true"} if param.kind == "bool" else {}
        group.add_argument(
            param.option, dest=param.name, metavar=metavar(param), default=argparse.SUPPRESS,
            type=_converter(param), help=param.help, **extra,
        )
    magics = parser.add_argument_group("Magic")
    magics.add_argument("--name", metavar="LABEL", default=None, help=MAGIC_OPTIONS[0][2])
    magics.add_argument("--quiet", action="store_const", const=True, default=None, help=MAGIC_OPTIONS[1][2])
    magics.add_argument(
        "--no-panel", dest="panel", action="store_const", const=False, default=None, help=MAGIC_OPTIONS[2][2]
    )
    magics.add_argument(
        "--no-sync", dest="sync_frameworks", action="store_const", const=False, default=argparse.SUPPRESS,
        help=MAGIC_OPTIONS[3][2],
    )


class OptionParser(argparse.ArgumentParser):
    """argparse that raises a UsageError (shown without a traceback) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


@lru_cache(maxsize=None)
def parser(prog: str, positional: str | None = None) -> OptionParser:
    """The option parser of one magic form (built once, on first use)."""
    result = OptionParser(prog=prog, allow_abbrev=False, add_help=False)
    if positional:
        result.add_argument(positional, nargs="?", default=None)
    _add_tracking_options(result)
    return result


def _unknown_message(prog: str, extras: list[str]) -> str:
    """Name each unknown option (with the closest real ones) and each stray word."""
    known = [p.option for p in text_parameters()] + [o[0] for o in MAGIC_OPTIONS]
    parts = []
    after_unknown_option = False
    for extra in extras:
        if extra.startswith("-"):
            option = extra.split("=", 1)[0]
            close = difflib.get_close_matches(option, known, n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            parts.append(f"unknown option {option}{hint}")
            after_unknown_option = "=" not in extra
        elif not after_unknown_option:
            parts.append(f"unexpected argument {extra!r}")
        else:
            after_unknown_option = False  # the unknown option's value
    return f"{prog}: " + "; ".join(parts) + f". See {prog}? for the options."


def split_words(text: str, prog: str) -> list[str]:
    """Shell-like words (quotes group words); a usage error for unbalanced quotes."""
    try:
        return shlex.split(text)
    except ValueError as error:
        raise UsageError(f"{prog}: cannot read the options ({error}).") from None


@lru_cache(maxsize=256)
def parse_options(text: str, prog: str, positional: str | None = None) -> tuple[TrackOptions, str | None]:
    """Parse a magic's options (and one optional positional word); cached by line text."""
    if not text.strip():
        return NO_OPTIONS, None
    words = split_words(text, prog)
    namespace, extras = parser(prog, positional).parse_known_args(words)
    if extras:
        raise UsageError(_unknown_message(prog, extras))
    values = vars(namespace)
    word = values.pop(positional, None) if positional else None
    options = TrackOptions(
        parameters=tuple(sorted((k, v) for k, v in values.items() if k in PARAMS)),
        name=values.get("name"),
        quiet=values.get("quiet"),
        panel=values.get("panel"),
    )
    return options, word


# -- %carbon [options] STATEMENT: options up to the first word that is not one ----------------

_WORD = re.compile(r"""(?:"[^"]*"|'[^']*'|\S)+""")
_BOOL_WORDS = {"true", "false", "1", "0", "yes", "no", "on", "off", "y", "n", "t", "f"}


def _takes_value(option: str) -> str:
    """'value', 'flag' or 'maybe' (yes/no parameters: a value only if one follows)."""
    if option == "--name":
        return "value"
    if option in ("--quiet", "--no-panel"):
        return "flag"
    param = PARAMS.get(option[2:].replace("-", "_"))
    if param is None:
        return "value"  # unknown: parse_options names it
    return "maybe" if param.kind == "bool" else "value"


def split_statement(line: str) -> tuple[str, str]:
    """Split ``[options] STATEMENT`` into the options' text and the statement's exact text.

    Options are the leading words that start with ``--``; ``--`` alone ends them, so a
    statement may itself start with a word such as ``status`` (``%carbon -- status``).
    """
    position = 0
    expect = ""
    for match in _WORD.finditer(line):
        word = match.group()
        if expect == "value" or (expect == "maybe" and word.lower() in _BOOL_WORDS):
            expect, position = "", match.end()
            continue
        if word == "--":
            return line[:match.start()], line[match.end():].strip()
        if not word.startswith("--"):
            return line[:position], line[match.start():].strip()
        expect = "" if "=" in word else _takes_value(word)
        position = match.end()
    return line[:position], ""


def split_names(text: str) -> tuple[list[str], str]:
    """``NAME NAME --option value``: the leading plain words, and the options' text."""
    names: list[str] = []
    for match in _WORD.finditer(text):
        if match.group().startswith("-"):
            return names, text[match.start():]
        names.append(match.group())
    return names, ""


def options_help() -> str:
    """The options section of the magics' help (``%carbon?``), grouped like the table."""
    lines = ["Options (every tracker parameter, plus the magics' own):", ""]
    groups: dict[str, list[Param]] = {}
    for param in text_parameters():
        groups.setdefault(param.group, []).append(param)
    for group, params in groups.items():
        lines.append(f"  {_GROUP_TITLES.get(group, group)}:")
        for param in params:
            lines += _option_lines(f"{param.option} {metavar(param)}", param.help)
        lines.append("")
    lines.append("  Magic:")
    for option, value, help_text in MAGIC_OPTIONS:
        lines += _option_lines(f"{option} {value}".strip(), help_text)
    return "\n".join(lines)


def _option_lines(head: str, help_text: str) -> list[str]:
    wrapped = textwrap.wrap(help_text, 72)
    return [f"    {head}"] + [f"        {line}" for line in wrapped]
