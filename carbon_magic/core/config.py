"""Resolving parameters from every source, each value remembering where it came from.

Priority, lowest to highest (CodeCarbon's order, with traitlets just below explicit options):
built-in default < ``~/.codecarbon.config`` < ``./.codecarbon.config`` < ``CODECARBON_*``
environment variables < extra layers (e.g. IPython's traitlets config) < explicit arguments.

Bad configuration is the one thing that fails loudly: a ``ConfigError`` names the parameter,
the value (never a secret), where it came from and what is accepted.
"""

from __future__ import annotations

import io
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .params import PARAMS, Param, ParameterError, env_read_elsewhere

logger = logging.getLogger("carbon_magic")

CONFIG_FILE_NAME = ".codecarbon.config"
SECTION = "codecarbon"
ENV_PREFIX = "CODECARBON_"
# CODECARBON_* variables that are not read as tracker parameters here but elsewhere (the
# table's env_read_by and environment switches): the telemetry level variables rank above
# every config layer and a bad value must not stop tracking; the debug switch is read at sending.
ENV_NOT_PARAMETERS = env_read_elsewhere()
# A config file is a few lines; anything larger is not one (e.g. a link to /dev/zero).
MAX_CONFIG_FILE_BYTES = 1 << 20


class ConfigError(ValueError):
    """A parameter that cannot be accepted, with the source it came from."""

    def __init__(self, message: str, *, name: str | None = None, source: str | None = None):
        self.name = name
        self.source = source
        super().__init__(message)

    @classmethod
    def from_parameter_error(cls, error: ParameterError, source: str) -> "ConfigError":
        return cls(
            f"Invalid value {error.shown_value} for '{error.name}' (from {source}). "
            f"Accepted: {error.accepted}.",
            name=error.name,
            source=source,
        )


@dataclass(frozen=True)
class Setting:
    """A resolved value and the source that set it."""

    value: Any
    source: str


def unknown_parameter_error(name: str, source: str) -> ConfigError:
    """The error for a name that is no parameter, with the closest valid names."""
    import difflib  # a bad name only: not at load

    close = difflib.get_close_matches(name.lower(), PARAMS, n=3, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return ConfigError(
        f"Unknown parameter '{name}' (from {source}).{hint} "
        f"Valid parameters: carbon_magic.core.params.PARAMS (or `%carbon config`).",
        name=name,
        source=source,
    )


def coerce(name: str, value: Any, source: str, *, text: bool = False) -> Any:
    """Validate one value for parameter ``name``; raise ConfigError naming ``source``."""
    param = PARAMS.get(name)
    if param is None:
        raise unknown_parameter_error(name, source)
    return coerce_param(param, value, source, text=text)


def coerce_param(param: Param, value: Any, source: str, *, text: bool = False) -> Any:
    """Validate one value for the table entry ``param``; raise ConfigError naming ``source``."""
    name = param.name
    if text and not param.from_text:
        raise ConfigError(
            f"'{name}' (from {source}) cannot be set from text: pass a Python object "
            f"to the tracker instead.",
            name=name,
            source=source,
        )
    try:
        return param.coerce(value)
    except ParameterError as error:
        raise ConfigError.from_parameter_error(error, source) from None


class Config(Mapping[str, Any]):
    """An immutable, fully resolved set of parameters; ``source(name)`` says where each came from."""

    __slots__ = ("_settings", "_keys")

    def __init__(self, settings: Mapping[str, Setting]):
        self._settings = dict(settings)
        self._keys: dict[tuple[str, ...], tuple[Any, ...]] = {}

    def __getitem__(self, name: str) -> Any:
        return self._settings[name].value

    def __getattr__(self, name: str) -> Any:
        try:
            return self._settings[name].value
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._settings)

    def __len__(self) -> int:
        return len(self._settings)

    def source(self, name: str) -> str:
        return self._settings[name].source

    def settings(self) -> dict[str, Setting]:
        return dict(self._settings)

    def values_and_sources(self, names: tuple[str, ...]) -> tuple[Any, ...]:
        """The values then the sources of ``names``, as one hashable tuple (a cache key).

        Computed once per Config and tuple of names (a Config never changes)."""
        key = self._keys.get(names)
        if key is None:
            settings = self._settings
            key = self._keys[names] = tuple(
                [settings[n].value for n in names] + [settings[n].source for n in names]
            )
        return key

    def with_values(self, values: Mapping[str, Any], source: str) -> "Config":
        """A copy with ``values`` (validated) layered on top, attributed to ``source``."""
        settings = dict(self._settings)
        for name, value in values.items():
            settings[name] = Setting(coerce(name, value, source), source)
        _apply_replacements(settings)
        return Config(settings)

    def shown(self, name: str) -> str:
        """The value as it may be displayed: secrets masked."""
        return PARAMS[name].show(self[name])

    def __repr__(self) -> str:
        changed = ", ".join(
            f"{n}={self.shown(n)}" for n, s in self._settings.items() if s.source != "default"
        )
        return f"Config({changed})"


# --- sources -------------------------------------------------------------------------------


def _unreadable(path: Path, why: str) -> ConfigError:
    return ConfigError(
        f"Cannot read {path}: {why}. Expected an INI file with a [codecarbon] "
        f"section of 'name = value' lines.",
        source=str(path),
    )


def _read_regular_file(path: Path) -> str:
    """The text of ``path`` if it is a regular file of at most MAX_CONFIG_FILE_BYTES.

    Opened without blocking and checked on the open descriptor: a named pipe, a device
    (a link to /dev/zero) or a huge file is refused at once instead of hanging or filling memory.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a named pipe" if stat.S_ISFIFO(mode) else "a device or other special file"
            raise _unreadable(path, f"it is {kind}, not a regular file")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(MAX_CONFIG_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_FILE_BYTES:
        raise _unreadable(path, f"larger than {MAX_CONFIG_FILE_BYTES} bytes")
    return data.decode("utf-8")


def _file_values(path: Path) -> dict[str, str]:
    """The ``[codecarbon]`` section of an INI file ({} if the file does not exist)."""
    try:
        text = _read_regular_file(path)
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as error:
        raise _unreadable(path, str(error)) from None
    except OSError as error:
        logger.warning("carbon_magic: cannot read %s (%s); ignoring it.", path, error.strerror)
        return {}
    import configparser  # where a file exists only: most machines have none

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_file(io.StringIO(text, newline=None), str(path))
    except configparser.Error as error:
        first_line = str(error).splitlines()[0].rstrip(".")
        raise _unreadable(path, first_line) from None
    if not parser.has_section(SECTION):
        return {}
    return dict(parser.items(SECTION))


def _file_cache_key(path: Path) -> tuple[str, int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino)


_FILE_CACHE: dict[str, tuple[tuple[str, int, int, int] | None, dict[str, Any]]] = {}


def read_config_file(path: Path, label: str) -> dict[str, Any]:
    """Validated values from one config file, cached until the file changes."""
    key = _file_cache_key(path)
    cached = _FILE_CACHE.get(str(path))
    if cached is not None and cached[0] == key:
        return cached[1]
    values = {
        name.lower(): coerce(name.lower(), raw, f"{label} [{SECTION}]", text=True)
        for name, raw in _file_values(path).items()
    }
    _FILE_CACHE[str(path)] = (key, values)
    return values


# Unknown variables already warned about: once per process, as the environment and the log are the process's.
_warned_env: set[str] = set()


def read_environment(environ: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    """``CODECARBON_<PARAM>`` values (prefix case-insensitive), validated, with their variable name."""
    values: dict[str, tuple[Any, str]] = {}
    for variable, raw in environ.items():
        if not variable.upper().startswith(ENV_PREFIX) or variable.upper() in ENV_NOT_PARAMETERS:
            continue
        name = variable[len(ENV_PREFIX):].lower()
        source = f"environment variable {variable}"
        if name not in PARAMS:
            if variable not in _warned_env:
                _warned_env.add(variable)
                logger.warning("carbon_magic: ignoring %s: %s", variable, unknown_parameter_error(name, source))
            continue
        values[name] = (coerce(name, raw, source, text=True), source)
    return values


def config_file_paths(cwd: Path | None = None, home: Path | None = None) -> list[tuple[Path, str]]:
    """The global then the local config file, each with the label used in messages."""
    home = home if home is not None else Path.home()
    cwd = cwd if cwd is not None else Path.cwd()
    return [
        (home / CONFIG_FILE_NAME, f"~/{CONFIG_FILE_NAME}"),
        (cwd / CONFIG_FILE_NAME, str(cwd / CONFIG_FILE_NAME)),
    ]


def _apply_replacements(settings: dict[str, Setting]) -> None:
    """Carry a deprecated parameter's value to its replacement when that one is unset."""
    for name, param in PARAMS.items():
        old = settings.get(name)
        if param.replaced_by is None or old is None or old.value is None:
            continue
        if settings[param.replaced_by].value is None:
            settings[param.replaced_by] = Setting(old.value, f"{old.source} (deprecated '{name}')")


def resolve_config(
    arguments: Mapping[str, Any] | None = None,
    *,
    argument_source: str = "argument",
    layers: Sequence[tuple[str, Mapping[str, Any]]] = (),
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    home: Path | None = None,
    files: Iterable[tuple[Path, str]] | None = None,
) -> Config:
    """Resolve every parameter from all sources.

    ``layers`` are (source label, values) pairs placed between the environment and the
    explicit ``arguments`` (IPython's traitlets config uses this).
    """
    settings = {name: Setting(param.default, "default") for name, param in PARAMS.items()}
    for path, label in files if files is not None else config_file_paths(cwd, home):
        for name, value in read_config_file(path, label).items():
            settings[name] = Setting(value, label)
    for name, (value, source) in read_environment(os.environ if environ is None else environ).items():
        settings[name] = Setting(value, source)
    for label, values in (*layers, (argument_source, arguments or {})):
        for name, value in values.items():
            settings[name] = Setting(coerce(name, value, label), label)
    _apply_replacements(settings)
    return Config(settings)


def parameter(name: str) -> Param:
    """The table entry for ``name`` (ConfigError with suggestions if there is none)."""
    try:
        return PARAMS[name]
    except KeyError:
        raise unknown_parameter_error(name, "argument") from None
