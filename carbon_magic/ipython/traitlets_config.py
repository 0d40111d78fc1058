"""``CarbonMagic``: the traitlets configuration class, generated from the parameter table.

Every tracker parameter of ``core.params.PARAMS`` is a ``config=True`` trait with its help
text, and so are the magics' own settings (``quiet``, ``panel``: ``core.params.SETTINGS``),
so all of these work::

    %config CarbonMagic.pue = 1.3                   # in a notebook or terminal
    c.CarbonMagic.pue = 1.3                         # ipython_config.py / ipython_kernel_config.py
    ipython --CarbonMagic.country_iso_code=FRA      # command line

Values are checked by the core's rules as they are set, so a bad value fails at ``%config``
time with the core's message (parameter, value, source, what is accepted). Only the values
a user actually set (even to the default value) take part in resolution, each with the
route it came by; resolution then puts them between the magic's options and the
``CODECARBON_*`` environment variables.
"""

from __future__ import annotations

import copy
import textwrap
from typing import TYPE_CHECKING, Any

from traitlets import TraitError, TraitType
from traitlets.config import Configurable

from ..core.config import ConfigError, coerce_param
from ..core.params import PARAMS, SETTINGS, Param
from .options import metavar

SOURCE_CONFIG_FILE = "IPython config (c.CarbonMagic)"
SOURCE_CONFIG_MAGIC = "%config CarbonMagic"
SOURCE_ATTRIBUTE = "CarbonMagic attribute"


class ParameterTrait(TraitType):
    """A trait for one table entry: validated and converted by ``core.config.coerce_param``."""

    def __init__(self, param: Param):
        self.param = param
        self.info_text = param.accepted()
        help_text = f"{param.help} Accepts {param.accepted()}."
        if param.from_text and param.name in PARAMS:
            help_text += f" Environment variable: {param.env_var}."
        super().__init__(default_value=param.default, allow_none=param.default is None, help=help_text)
        self.tag(config=True, secret=param.secret)

    def validate(self, obj: Any, value: Any) -> Any:
        source = getattr(obj, "_source_being_set", None) or SOURCE_ATTRIBUTE
        try:
            return coerce_param(self.param, value, source)
        except ConfigError as error:
            raise TraitError(str(error)) from None

    def from_string(self, text: str) -> Any:
        """Command-line values (``--CarbonMagic.pue=1.3``) are text, converted by the core."""
        if not self.param.from_text:
            raise TraitError(
                f"'{self.param.name}' cannot be set from the command line: set "
                f"c.CarbonMagic.{self.param.name} in ipython_config.py to a Python object."
            )
        return text


# CarbonMagic is built as (_ConfigBehaviour, Configurable): the type checker sees the mixin's base
if TYPE_CHECKING:
    _Configurable = Configurable
else:
    _Configurable = object


class _ConfigBehaviour(_Configurable):
    """CarbonMagic's methods: remembering which parameters were set, and by which route."""

    _source_being_set: str | None = None

    def __init__(self, **kwargs: Any):
        self._sources: dict[str, str] = {}
        self.generation = 0
        parent = kwargs.get("parent")
        given = kwargs.get("config") if kwargs.get("config") is not None else getattr(parent, "config", None)
        self.rejected: list[str] = []
        if given is not None:
            kwargs["config"], self.rejected = self._valid_part(given)
        self._source_being_set = SOURCE_CONFIG_FILE
        try:
            super().__init__(**kwargs)
        finally:
            self._source_being_set = None
        self._mark_set(self.config, SOURCE_CONFIG_FILE)
        self.observe(self._on_change, names=list(SETTINGS))

    @classmethod
    def _valid_part(cls, config: Any) -> tuple[Any, list[str]]:
        """A copy of ``config`` without the values of ours that the core rejects, and why.

        ``%config`` also merges what it is given into the shell's config, rejected values
        included; a later load must not fail on them but say that they were ignored.
        """
        cleaned = copy.deepcopy(config)
        rejected = []
        for section in cls.section_names():
            values = cleaned.get(section)
            if not values:
                continue
            for name in [n for n in values if n in SETTINGS]:
                try:
                    coerce_param(SETTINGS[name], values[name], SOURCE_CONFIG_FILE)
                except ConfigError as error:
                    rejected.append(f"{error} Ignored.")
                    del values[name]
        return cleaned, rejected

    def _on_change(self, change: Any) -> None:
        """A direct assignment (``magic.pue = 1.3``); %config and config files mark their own."""
        if self._source_being_set is None and change["name"] in SETTINGS:
            self._sources[change["name"]] = SOURCE_ATTRIBUTE
        self.generation += 1

    def _mark_set(self, config: Any, label: str) -> None:
        """Remember every parameter present in ``config``'s sections for this class."""
        for section in self.section_names():
            if section in config:
                for name in config[section]:
                    if name in SETTINGS:
                        self._sources[name] = label
        self.generation += 1

    def update_config(self, config: Any) -> None:
        """What ``%config CarbonMagic.name = value`` calls; bad values raise TraitError."""
        self._source_being_set = SOURCE_CONFIG_MAGIC
        try:
            super().update_config(config)
        finally:
            self._source_being_set = None
        self._mark_set(config, SOURCE_CONFIG_MAGIC)

    def layers(self) -> list[tuple[str, dict[str, Any]]]:
        """The parameters a user set, grouped by route: ``resolve_config``'s ``layers``."""
        grouped: dict[str, dict[str, Any]] = {}
        for name, label in self._sources.items():
            if name in PARAMS:
                grouped.setdefault(label, {})[name] = getattr(self, name)
        return list(grouped.items())

    def source(self, name: str) -> str | None:
        """The route by which ``name`` was set here (None if it was not)."""
        return self._sources.get(name)

    @classmethod
    def class_get_help(cls, inst: Any = None) -> str:
        """``%config CarbonMagic``: every option, its help and its current value."""
        title = f"{cls.__name__} options (set with %config {cls.__name__}.NAME = VALUE)"
        lines = [title, "-" * len(title)]
        lines += [cls.class_get_trait_help(trait, inst) for _, trait in sorted(cls.class_traits(config=True).items())]
        return "\n".join(lines)

    @classmethod
    def class_get_trait_help(cls, trait: TraitType, inst: Any = None, helptext: str | None = None) -> str:
        """traitlets' help text with the parameter's kind as metavar and secrets masked."""
        if not isinstance(trait, ParameterTrait):
            return super().class_get_trait_help(trait, inst, helptext)
        lines = [f"--{cls.__name__}.{trait.name}=<{metavar(trait.param)}>"]
        lines += ["    " + line for line in textwrap.wrap(helptext or trait.help, 76)]
        if inst is not None:
            lines.append(f"    Current: {trait.param.show(getattr(inst, trait.param.name))}")
        else:
            lines.append(f"    Default: {trait.param.show(trait.param.default)}")
        return "\n".join(lines)


def _namespace() -> dict[str, Any]:
    namespace: dict[str, Any] = {name: ParameterTrait(param) for name, param in SETTINGS.items()}
    namespace["__doc__"] = __doc__
    namespace["__module__"] = __name__
    return namespace


CarbonMagic = type("CarbonMagic", (_ConfigBehaviour, Configurable), _namespace())
