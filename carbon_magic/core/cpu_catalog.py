"""CPU TDP lookup in the packaged table ``carbon_magic/data/cpu_tdp.csv``.

A CPU model string as the OS reports it (``/proc/cpuinfo``'s "model name", ``platform``,
``cpuinfo``) is normalised, then looked up:

1. exactly, by normalised name;
2. else fuzzily, among the table rows whose *model tokens* (the tokens with a digit in them,
   apart from lone digits such as Ryzen's "9" or a Sandy Bridge Xeon's trailing "0") are exactly
   the query's, and which share a family word with it ("xeon", "ryzen", ...). The best row by
   token overlap wins; a tie between rows of different TDPs is ambiguous and gives no match.

So a fuzzy hit never swaps a model number: "EPYC 7B13" never matches "EPYC 7B12", and a bare
family name ("AMD EPYC", "Intel Xeon") has no model token and matches nothing.

``cpu_generation`` gives a CPU's vendor, microarchitecture and launch year from its model
number, by the naming rules in ``carbon_magic/data/cpu_generations.csv`` (the first rule whose
pattern is found in the normalised name wins); ``cpu_vendor`` the vendor of a partly named CPU.

Stdlib only. The table is read on the first lookup (not at import) and kept; results are cached.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import NamedTuple

from .package_data import csv_rows

TABLE_FILE = "cpu_tdp.csv"
TABLE_COLUMNS = ("name", "tdp_w", "key")
GENERATIONS_FILE = "cpu_generations.csv"
GENERATION_COLUMNS = ("pattern", "vendor", "microarchitecture", "launch_year")
# A vendor's name, else a family word only one vendor uses ("Six-Core AMD Opteron": "core" is no clue).
VENDOR_WORDS = {"intel": "intel", "amd": "amd"}
FAMILY_VENDORS = {"xeon": "intel", "pentium": "intel", "celeron": "intel",
                  "epyc": "amd", "opteron": "amd", "ryzen": "amd", "athlon": "amd"}

# Everything that is noise in a CPU name, removed in one pass (the input is lower-cased).
_NOISE = re.compile(
    r"\([^)]*\)"  # "(R)", "(TM)", "(OEM Only)", "(Cascadelake)"
    r"|\[[^\]]*\]"  # "[338-BNCG]" (a vendor's SKU)
    r"|[\u00ae\u2122\u00a9]"  # registered, trade mark and copyright signs
    r"|@\s*\d+(?:\.\d+)?\s*[gm]hz"  # "@ 2.20GHz"
    r"|\b\d+(?:\.\d+)?\s*ghz\b"  # "2.20 GHz", "2.3GHz" without "@" (MHz names a model: "EP80579 ..., 600 MHz")
    r"|,|\bdell sku\b"  # "X5570, 2.933 GHz", "7601 2.20 GHz, Dell SKU [338-BNCG]"
    r"|(?:^|\s)(?:with|w/)\s+radeon\b.*"  # "with Radeon Graphics", "w/ Radeon 780M Graphics"
    r"|\b(?:\d+|dual|triple|quad|six|eight|ten|twelve|sixteen)-cores?\b"  # "64-Core"
    r"|\b\d+(?:st|nd|rd|th) gen(?:eration)?\b"  # "11th Gen"
    r"|\b(?:intel|amd|cpu|processor|apu)\b"
)
# "Core(TM) i7 CPU 920" names the model the table spells "Core i7-920".
_SPLIT_CORE_MODEL = re.compile(r"\b(i[3579]) (\d{3,5}[a-z]*)\b")
# "E3-1220v2", "E3-1265LV3", "2216HE" name the models spelt "E3-1220 v2", "E3-1265L v3", "2216 HE".
_GLUED_VERSION = re.compile(r"(?<=\d)([a-z]?)v(\d)\b")
_GLUED_POWER_CLASS = re.compile(r"\b(opteron \d{4})(he|ee|se)\b")  # Intel's "i7-9850HE" is one model token
# Xeons of 2004-2006 are named by their clock: "Intel Xeon 3.8GHz" is the table's "Intel Xeon 3.8".
# "Intel(R) Xeon(R) CPU @ 3.20GHz" (a cloud VM's unnamed Xeon) is not: "@" gives a clock, not a name.
_CLOCK_NAME = re.compile(r"(?<!@)(?<!@ )\b(\d\.\d+)\s*ghz\b")
_HYPHEN_SPACES = re.compile(r" ?- ?")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class CpuMatch:
    """A table row found for a CPU model string.

    ``name`` is the row's display name, ``tdp_w`` its TDP per socket in watts, ``exact`` says
    whether the normalised names were equal, and ``score`` is 1.0 for an exact match, else the
    token overlap (0..1) of the fuzzy match.
    """

    name: str
    tdp_w: float
    exact: bool
    score: float


@dataclass(frozen=True)
class CpuGeneration:
    """What a CPU's model number says about it: ``vendor`` ("intel", "amd"), ``microarchitecture``
    ("cascadelake", "epyc3", ...) and ``launch_year``."""

    vendor: str
    microarchitecture: str
    launch_year: int


class _Row(NamedTuple):
    name: str
    tdp_w: float
    key: str


def normalise_cpu_name(raw: str) -> str:
    """The comparable form of a CPU name: lower case, without vendor and marketing noise.

    Drops "(R)", "(TM)", "Intel", "AMD", "CPU", "Processor", "APU", "@ 2.20GHz", clock speeds
    in GHz ("2.20 GHz"), "with Radeon Graphics" (and "w/ Radeon ..."), core counts ("64-Core",
    "Eight-Core"), "11th Gen", parenthesised and bracketed notes, commas, spaces around hyphens
    and repeated spaces; joins "i7 920" as "i7-920" and splits "E3-1220v2" as "E3-1220 v2" and
    Opteron "2216HE" as "2216 HE".
    "Intel(R) Core(TM) i7-10700K CPU @ 3.80GHz" -> "core i7-10700k".
    """
    text = " ".join(_NOISE.sub(" ", raw.lower()).split())
    text = _SPLIT_CORE_MODEL.sub(r"\1-\2", text)
    text = _GLUED_VERSION.sub(r"\1 v\2", text)
    text = _GLUED_POWER_CLASS.sub(r"\1 \2", text)
    return _HYPHEN_SPACES.sub("-", text).strip(" -")


def _model_tokens(tokens: frozenset[str]) -> frozenset[str]:
    """The tokens that name a model: those with a digit, apart from lone digits (tiers)."""
    return frozenset(t for t in tokens if len(t) > 1 and _DIGIT.search(t))


@functools.lru_cache(maxsize=1)
def _rows_by_key() -> dict[str, _Row]:
    """The packaged table, read once, by normalised name (the file's ``key`` column)."""
    return {key: _Row(name, float(tdp_w), key) for name, tdp_w, key in csv_rows(TABLE_FILE, TABLE_COLUMNS)}


@functools.lru_cache(maxsize=1)
def _rows_by_model() -> dict[frozenset[str], tuple[_Row, ...]]:
    """The table's rows grouped by model tokens, built on the first fuzzy lookup."""
    groups: dict[frozenset[str], list[_Row]] = {}
    for row in _rows_by_key().values():
        groups.setdefault(_model_tokens(frozenset(row.key.split())), []).append(row)
    return {models: tuple(rows) for models, rows in groups.items()}


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard overlap of two token sets."""
    return len(a & b) / len(a | b)


def _shares_family(query: frozenset[str], row: frozenset[str]) -> bool:
    """True unless both sides name a family (non-model words) and share none of it."""
    query_words = query - _model_tokens(query)
    row_words = row - _model_tokens(row)
    return not query_words or not row_words or bool(query_words & row_words)


def _candidates(tokens: frozenset[str]) -> list[tuple[float, _Row]]:
    """(overlap, row) for the rows with exactly these model tokens and a shared family word."""
    scored = []
    for row in _rows_by_model().get(_model_tokens(tokens), ()):
        row_tokens = frozenset(row.key.split())
        if _shares_family(tokens, row_tokens):
            scored.append((_overlap(tokens, row_tokens), row))
    return scored


def _fuzzy(key: str) -> CpuMatch | None:
    """The best row with exactly the query's model tokens, or None if none or a tie."""
    tokens = frozenset(key.split())
    if not _model_tokens(tokens):
        return None
    scored = _candidates(tokens)
    if not scored:
        return None
    best_score = max(score for score, _ in scored)
    best_rows = [row for score, row in scored if score == best_score]
    if len({row.tdp_w for row in best_rows}) > 1:
        return None
    best = best_rows[0]
    return CpuMatch(name=best.name, tdp_w=best.tdp_w, exact=False, score=round(best_score, 4))


@functools.lru_cache(maxsize=256)
def lookup_tdp(raw_model: str) -> CpuMatch | None:
    """The TDP table row for a CPU model string, or None if it is unknown or ambiguous.

    Exact match of normalised names first, then the fuzzy match described in the module
    docstring. Never raises for odd input: an empty or family-only name gives None.
    """
    key = normalise_cpu_name(raw_model or "")
    if not key:
        return None
    row = _rows_by_key().get(key)
    if row is not None:
        return CpuMatch(name=row.name, tdp_w=row.tdp_w, exact=True, score=1.0)
    if not _model_tokens(frozenset(key.split())):
        return _clock_named(raw_model, key)
    return _fuzzy(key)


def _clock_named(raw_model: str, key: str) -> CpuMatch | None:
    """The row of a Xeon named by its clock ("Intel Xeon 3.8GHz" -> "Intel Xeon 3.8"), if any."""
    clocks = _CLOCK_NAME.findall(raw_model.lower())
    if key != "xeon" or len(clocks) != 1:
        return None
    row = _rows_by_key().get(f"xeon {clocks[0]}")
    return None if row is None else CpuMatch(name=row.name, tdp_w=row.tdp_w, exact=False, score=0.5)


class _GenerationRule(NamedTuple):
    pattern: str
    lead: str  # the text every match starts with: a name without it is not tried (nor its pattern compiled)
    generation: CpuGeneration


def leading_text(pattern: str) -> str:
    """The text every match of the regular expression ``pattern`` starts with: "xeon e5-" for
    "xeon e5-\\d{4}", "ryzen" for "ryzen( pro)?", "" for "^(xeon|[xlew])56" or "a|b"."""
    depth = 0
    for char in pattern:  # an alternation outside parentheses: no text is common to all matches
        depth += (char == "(") - (char == ")")
        if char == "|" and depth == 0:
            return ""
    lead = re.match(r"[^\\.^$*+?{}\[\]()|]*", pattern).group()  # type: ignore[union-attr]
    return lead[:-1] if pattern[len(lead):len(lead) + 1] in ("*", "?", "{") else lead


@functools.lru_cache(maxsize=1)
def _generation_rules() -> tuple[_GenerationRule, ...]:
    """The naming rules of ``cpu_generations.csv``, in file order."""
    return tuple(_GenerationRule(pattern, leading_text(pattern), CpuGeneration(vendor, arch, int(year)))
                 for pattern, vendor, arch, year in csv_rows(GENERATIONS_FILE, GENERATION_COLUMNS))


@functools.lru_cache(maxsize=256)
def cpu_generation(raw_model: str) -> CpuGeneration | None:
    """The vendor, microarchitecture and launch year of a CPU model string, or None if no rule knows it.

    The name of the CPU table's row is used where the lookup finds one ("Intel Xeon 3.8GHz" is the
    table's "Intel Xeon 3.8", a 2004 NetBurst Xeon), else the normalised name itself.
    """
    match = lookup_tdp(raw_model)
    key = normalise_cpu_name(match.name if match else (raw_model or ""))
    return next((rule.generation for rule in _generation_rules() if rule.lead in key and re.search(rule.pattern, key)),
                None)


def cpu_vendor(raw_model: str) -> str | None:
    """"intel" or "amd" for a CPU named at least by its vendor or family ("AMD EPYC"), else None."""
    generation = cpu_generation(raw_model)
    if generation is not None:
        return generation.vendor
    words = re.findall(r"[a-z]+", (raw_model or "").lower())
    for table in (VENDOR_WORDS, FAMILY_VENDORS):
        found = next((table[word] for word in words if word in table), None)
        if found:
            return found
    return None
