"""The magics' command-line options, generated from the parameter table.

Every tracker parameter that can be written as text is an option in kebab-case
(``--pue 1.2 --country-iso-code FRA --tracking-mode process``); yes/no parameters take an
optional value (``--offline``, ``--save-to-file false``). The magics' own options
(``--name LABEL``, ``--quiet``, ``--no-panel``) and flags such as ``--no-sync`` come from the
same table (``core.params.MAGIC_OPTIONS`` and each entry's ``flags``): one list of
``OptionSpec`` feeds the parser, the statement splitter, the suggestions and the help (``magic_help``).
Values are checked by the core's rules as they are parsed, so a bad value is an
argparse-style usage error carrying the core's message, and the cell does not run.
Secrets (``api_key``, tokens) are refused: a magic line is saved in the notebook.
"""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NoReturn

from IPython.core.error import UsageError

from ..core.config import CONFIG_FILE_NAME, SECTION, ConfigError, coerce_param
from ..core.params import MAGIC_GROUP, MAGIC_OPTIONS, PARAMS, Param

OPTION_SOURCE = "magic option"
HELP_ALL = "--help-all"
_METAVARS = {
    "str": "TEXT", "float": "NUMBER", "int": "INTEGER", "bool": "[true|false]",
    "str_list": "A,B", "gpu_ids": "IDS", "log_level": "LEVEL", "handlers": "OBJECTS", "object": "OBJECT",
}
GROUP_TITLES = {
    "general": "General", "output": "Outputs", "location": "Location and intensity", "hardware": "Hardware",
    "panel": "Live panel", MAGIC_GROUP: "Magic",
}


def metavar(param: Param) -> str:
    """How a parameter's value is written in help texts."""
    if param.kind == "choice":
        return "|".join(param.choices)
    return param.metavar or _METAVARS[param.kind]


@dataclass(frozen=True)
class OptionSpec:
    """One magic option: ``takes`` is 'value', 'maybe' (yes/no: a value only if one follows)
    or 'flag' (no value: sets ``const``)."""

    option: str
    param: Param
    takes: str
    const: Any = None

    @property
    def head(self) -> str:
        """The option as the help writes it: ``--pue NUMBER``, ``--quiet``."""
        return self.option if self.takes == "flag" else f"{self.option} {metavar(self.param)}"

    @property
    def help(self) -> str:
        if self.takes == "flag" and self.param.group != MAGIC_GROUP:
            return f"Same as {self.param.option} {str(self.const).lower()}."
        return self.param.help


def _specs_of(param: Param) -> list[OptionSpec]:
    flags = [OptionSpec(flag, param, "flag", value) for flag, value in param.flags]
    if param.group == MAGIC_GROUP and flags:
        return flags
    return [OptionSpec(param.option, param, "maybe" if param.kind == "bool" else "value"), *flags]


@lru_cache(maxsize=None)
def option_specs() -> tuple[OptionSpec, ...]:
    """Every magic option, in table order: the text tracker parameters that one cell may set
    (telemetry is kernel-wide: ``%carbon telemetry``), then the magics' own."""
    params = [p for p in PARAMS.values() if p.per_cell] + list(MAGIC_OPTIONS.values())
    return tuple(spec for param in params for spec in _specs_of(param))


@lru_cache(maxsize=None)
def _spec_index() -> dict[str, OptionSpec]:
    return {spec.option: spec for spec in option_specs()}


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
            return coerce_param(param, text, source, text=True)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


class SecretOptionRefused(UsageError):
    """A secret given as a magic option: refused, since the line is saved in the notebook."""


def secret_refusal(param: Param, prog: str) -> str:
    """Why ``param`` is no magic option, and the three places to set it instead."""
    return (
        f"{prog}: {param.option} is refused: '{param.name}' is a secret, and a magic line is saved "
        f"in the notebook (and its history). Remove it from the cell and set it in one of: "
        f"%config CarbonMagic.{param.name} = '...'; the environment variable {param.env_var}; "
        f"a line '{param.name} = ...' in the [{SECTION}] section of ./{CONFIG_FILE_NAME} or ~/{CONFIG_FILE_NAME}."
    )


def secret_words(words: list[str]) -> list[tuple[Param, str | None]]:
    """The secret options among ``words``, each with the value given to it (if any)."""
    found = []
    for index, word in enumerate(words):
        option, equals, value = word.partition("=")
        spec = _spec_index().get(option)
        if spec is None or not spec.param.secret:
            continue
        if not equals:
            value = words[index + 1] if index + 1 < len(words) else ""
        found.append((spec.param, value or None))
    return found


def _add_tracking_options(parser: argparse.ArgumentParser) -> None:
    groups: dict[str, Any] = {}
    for spec in option_specs():
        param = spec.param
        group = groups.get(param.group)
        if group is None:
            group = groups[param.group] = parser.add_argument_group(GROUP_TITLES.get(param.group, param.group))
        if spec.takes == "flag":
            group.add_argument(spec.option, dest=param.name, action="store_const", const=spec.const,
                               default=argparse.SUPPRESS, help=spec.help)
            continue
        extra: dict[str, Any] = {"nargs": "?", "const": "true"} if spec.takes == "maybe" else {}
        group.add_argument(
            spec.option, dest=param.name, metavar=metavar(param), default=argparse.SUPPRESS,
            type=_converter(param), help=param.help, **extra,
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
    import difflib  # a mistyped option only: not at load

    known = [spec.option for spec in option_specs()] + [HELP_ALL]
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
    """Parse a magic's options (and one optional positional word); cached by line text.

    A secret option raises SecretOptionRefused (never cached: lru_cache keeps no failures)."""
    if not text.strip():
        return NO_OPTIONS, None
    words = split_words(text, prog)
    secrets = secret_words(words)
    if secrets:
        raise SecretOptionRefused(secret_refusal(secrets[0][0], prog))
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
    spec = _spec_index().get(option)
    if spec is not None:
        return spec.takes
    return "flag" if option == HELP_ALL else "value"  # unknown: parse_options names it


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
