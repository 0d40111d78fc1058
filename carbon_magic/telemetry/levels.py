"""Which telemetry tier applies, and where that came from.

Priority, highest first:

1. ``DO_NOT_TRACK`` set to any true value (anything but empty, 0, false, no, off): disabled;
2. ``CODECARBON_TELEMETRY`` (or ``CODECARBON_TELEMETRY_LEVEL``);
3. the ``telemetry`` parameter (traitlets / ``%config``, ``.codecarbon.config``, arguments);
4. the user's stored choice (first-run prompt or ``%carbon telemetry <tier>``);
5. nothing chosen: disabled (and the first-run prompt may ask).

An unknown value warns once (per source and value) and means disabled: a typo in a
telemetry setting never stops tracking, and never sends anything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping

from ..core.params import PARAMS

logger = logging.getLogger("carbon_magic")

DISABLED, MINIMAL, EXTENSIVE = "disabled", "minimal", "extensive"
LEVELS = (DISABLED, MINIMAL, EXTENSIVE)

# The first-run prompt's text for each tier (the feature request's wording).
PROMPT_TEXTS = {
    DISABLED: "Telemetry disabled",
    MINIMAL: "Basic environment info only",
    EXTENSIVE: "Full data + emissions shared publicly",
}
# Who sees what each tier sends.
VISIBILITY = {
    DISABLED: "nothing is sent",
    MINIMAL: "private: maintainers only",
    EXTENSIVE: "public: leaderboard",
}

LEVEL_VARIABLES = PARAMS["telemetry"].env_names
_NOT_TRUE = {"", "0", "false", "no", "off", "n", "f"}


@dataclass(frozen=True)
class Resolution:
    """The tier in effect and why.

    ``source``: where it came from, in words. ``chosen``: False only when no source said
    anything (the first-run prompt may then ask); an invalid value counts as a choice.
    """

    level: str
    source: str
    chosen: bool = True

    @property
    def enabled(self) -> bool:
        return self.level != DISABLED


# Invalid tiers already warned about: once per process, as the log they go to is the process's.
_warned: set[tuple[str, str]] = set()


def truthy(value: str | None) -> bool:
    """True for a set variable whose value is not empty, 0, false, no or off."""
    return value is not None and value.strip().lower() not in _NOT_TRUE


def do_not_track(environ: Mapping[str, str]) -> bool:
    """True if ``DO_NOT_TRACK`` is set to any true value (https://consoledonottrack.com)."""
    return truthy(environ.get("DO_NOT_TRACK"))


def parse_level(value: Any, source: str) -> Resolution:
    """A tier named by ``value`` (case and spaces ignored); unknown values warn once and
    mean disabled."""
    text = value.strip().lower() if isinstance(value, str) else value
    if text in LEVELS:
        return Resolution(text, source)
    key = (source, repr(value))
    if key not in _warned:
        _warned.add(key)
        logger.warning(
            "carbon_magic: telemetry level %r (from %s) is not one of %s; telemetry is disabled.",
            value, source, ", ".join(LEVELS),
        )
    return Resolution(DISABLED, f"{source} (invalid value {value!r}, so disabled)")


def resolve_level(
    environ: Mapping[str, str],
    parameter: tuple[Any, str] | None = None,
    stored: tuple[str | None, str] | None = None,
) -> Resolution:
    """The tier from every source, highest priority first (see the module docstring).

    ``parameter``: the ``telemetry`` parameter's (value, source), None if not set.
    ``stored``: the stored choice's (level or None, where it is stored).
    """
    if do_not_track(environ):
        return Resolution(DISABLED, f"DO_NOT_TRACK={environ['DO_NOT_TRACK']}")
    for variable in LEVEL_VARIABLES:
        value = environ.get(variable)
        if value is not None:
            return parse_level(value, f"environment variable {variable}")
    if parameter is not None and parameter[0] is not None:
        return parse_level(parameter[0], f"the telemetry parameter ({parameter[1]})")
    if stored is not None and stored[0] is not None:
        return parse_level(stored[0], f"your stored choice ({stored[1]})")
    return Resolution(DISABLED, "default: no tier chosen yet", chosen=False)
