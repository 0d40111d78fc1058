"""CPU TDP lookup: normalising /proc/cpuinfo model names and matching them to the table.

Every expected TDP is checked against CodeCarbon 3.3.2's hardware/cpu_power.csv.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbon_magic.core import cpu_catalog
from carbon_magic.core.cpu_catalog import CpuMatch, lookup_tdp, normalise_cpu_name

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "carbon_magic" / "data" / "cpu_tdp.csv"
SOURCE_CSV = REPO / "data-sources" / "codecarbon-3.3.2" / "hardware" / "cpu_power.csv"


def table_rows() -> list[dict[str, str]]:
    with open(TABLE, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def source_tdps() -> dict[str, str]:
    """cpu_power.csv as name -> TDP text, as published."""
    with open(SOURCE_CSV, encoding="utf-8-sig", newline="") as f:
        return {row["Name"]: row["TDP"] for row in csv.DictReader(f)}


# Real "model name" lines of /proc/cpuinfo -> the table row they are, as in cpu_power.csv.
KNOWN = [
    ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "Intel Xeon Platinum 8375C"),
    ("Intel(R) Core(TM) i7-10700K CPU @ 3.80GHz", "Intel Core i7-10700K"),
    ("Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz", "Intel Xeon E5-2680 v4"),
    ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "Intel Xeon E5-2686 v4"),
    ("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", "Intel Xeon Gold 6248R"),
    ("Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", "Intel Xeon Platinum 8259CL"),
    ("Intel(R) Xeon(R) Platinum 8480+", "Intel Xeon Platinum 8480+"),
    ("11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz", "Intel Core i7-1165G7"),
    ("Intel(R) Core(TM) Ultra 7 155H", "Intel Core Ultra 7 155H"),
    ("Intel(R) Core(TM)2 Duo CPU     E8400  @ 3.00GHz", "Intel Core 2 Duo E8400"),
    ("Intel(R) Core(TM) i7 CPU         920  @ 2.67GHz", "Intel Core i7-920"),
    ("Intel(R) Celeron(R) N4020 CPU @ 1.10GHz", "Intel Celeron N4020"),
    ("AMD Ryzen 9 5950X 16-Core Processor", "AMD Ryzen 9 5950X"),
    ("AMD Ryzen 7 5800X3D 8-Core Processor", "AMD Ryzen 7 5800X3D"),
    ("AMD Ryzen 5 5600G with Radeon Graphics", "AMD Ryzen 5 5600G"),
    ("AMD Ryzen 7 7840U w/ Radeon 780M Graphics", "AMD Ryzen 7 7840U"),
    ("AMD Ryzen 5 PRO 4650G with Radeon Graphics", "AMD Ryzen 5 PRO 4650G"),
    ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763"),
    ("AMD EPYC 9654 96-Core Processor", "AMD EPYC 9654"),
    ("AMD EPYC 7R13 Processor", "AMD EPYC 7R13"),
    ("AMD Ryzen Threadripper PRO 3995WX 64-Cores", "AMD Ryzen Threadripper PRO 3995WX"),
    ("AMD Ryzen Threadripper 3970X 32-Core Processor", "AMD Ryzen Threadripper 3970X"),
    ("AMD FX(tm)-8350 Eight-Core Processor", "AMD FX-8350"),
    ("AMD Athlon(tm) II X4 640 Processor", "AMD Athlon II X4 640"),
]

# Family names with no model number, or models that are not in the table.
AMBIGUOUS_OR_UNKNOWN = [
    "",
    "   ",
    "AMD EPYC",
    "Intel Xeon",
    "AMD EPYC Processor",
    "Intel(R) Xeon(R) CPU @ 2.20GHz",
    "Intel Xeon Processor (Cascadelake)",
    "QEMU Virtual CPU version 2.5+",
    "Common KVM processor",
    "AMD EPYC 7B13 64-Core Processor",  # GCP's custom EPYC: not in the table (7B12 is)
    "Intel(R) Xeon(R) Platinum 8488C",  # AWS custom Sapphire Rapids: not in the table
    "12th Gen Intel(R) Core(TM) i9-12900K",  # not in CodeCarbon 3.3.2's table
]


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "xeon platinum 8375c"),
        ("AMD EPYC 7B13 64-Core Processor", "epyc 7b13"),
        ("Intel(R) Core(TM) i7-10700K CPU @ 3.80GHz", "core i7-10700k"),
        ("Intel Core i7-10700K", "core i7-10700k"),
        ("AMD Ryzen 7 PRO 4750U with Radeon Graphics", "ryzen 7 pro 4750u"),
        ("AMD FX(tm)-8350 Eight-Core Processor", "fx-8350"),
        ("Intel(R)  Core(TM)2   Quad CPU Q6600 @ 2.40GHz", "core 2 quad q6600"),
        ("13th Gen Intel(R) Core(TM) i7-13700H", "core i7-13700h"),
        ("AMD Ryzen 5 3500 Processor (OEM Only)", "ryzen 5 3500"),
    ],
)
def test_normalise_cpu_name(raw, normalised):
    assert normalise_cpu_name(raw) == normalised


def test_source_has_the_rows_the_examples_rely_on():
    source = source_tdps()
    assert source["Intel Xeon Platinum 8375C"] == "300"
    assert source["Intel Core i7-10700K"] == "125.0"
    assert source["AMD EPYC 7B12"] == "240"
    assert not any("7B13" in name for name in source)


@pytest.mark.parametrize(("raw", "name"), KNOWN)
def test_known_models_get_their_table_tdp(raw, name):
    match = lookup_tdp(raw)
    assert match is not None, raw
    assert match.name == name
    assert match.tdp_w == float(source_tdps()[name])
    assert match.exact and match.score == 1.0


@pytest.mark.parametrize("raw", AMBIGUOUS_OR_UNKNOWN)
def test_ambiguous_or_unknown_models_get_none(raw):
    assert lookup_tdp(raw) is None


def test_fuzzy_match_keeps_the_model_number():
    # Sandy Bridge Xeons report "E5-2680 0"; the table's row is the plain E5-2680 (130 W),
    # not the v2 (115 W), v3 or v4 (120 W).
    match = lookup_tdp("Intel(R) Xeon(R) CPU E5-2680 0 @ 2.70GHz")
    assert match == CpuMatch("Intel Xeon E5-2680", float(source_tdps()["Intel Xeon E5-2680"]), False, match.score)
    assert 0 < match.score < 1
    pentium = lookup_tdp("Intel(R) Pentium(R) Dual  CPU  E2180  @ 2.00GHz")
    assert pentium.name == "Intel Pentium Dual-Core E2180" and not pentium.exact
    assert pentium.tdp_w == float(source_tdps()["Intel Pentium Dual-Core E2180"])


def test_same_model_number_in_another_family_is_not_a_match():
    assert lookup_tdp("AMD EPYC 7763") is not None
    assert lookup_tdp("Intel Celeron 7763") is None
    assert lookup_tdp("Ryzen 9 7763") is None


def test_table_keys_are_the_normalised_names_and_unique():
    rows = table_rows()
    assert list(rows[0]) == ["name", "tdp_w", "key"]
    assert all(normalise_cpu_name(r["name"]) == r["key"] for r in rows)
    assert len({r["key"] for r in rows}) == len(rows)
    assert all(float(r["tdp_w"]) > 0 for r in rows)


def test_every_source_row_is_found_exactly_with_at_least_its_tdp():
    for name, tdp in source_tdps().items():
        try:
            tdp_w = float(tdp)
        except ValueError:  # four malformed rows ("27.29.5"), dropped by the build
            assert lookup_tdp(name) is None
            continue
        match = lookup_tdp(name)
        if tdp_w == 0:  # Quark D1000, dropped by the build
            assert match is None
            continue
        assert match is not None and match.exact, name
        assert match.tdp_w >= tdp_w, name  # duplicates keep the highest TDP


def test_duplicates_keep_the_highest_tdp():
    source = source_tdps()
    assert source["AMD Phenom II X4 945 (95W)"] == "95" and source["AMD Phenom II X4 945 (125W)"] == "125"
    assert lookup_tdp("AMD Phenom(tm) II X4 945 Processor").tdp_w == 125


NOISE = st.sampled_from(["", "(R)", "(TM)", " CPU", " Processor", " @ 3.10GHz", "  "])


@settings(max_examples=300, deadline=None)
@given(row=st.sampled_from(table_rows()), prefix=NOISE, suffix=NOISE, drop=st.integers(0, 3))
def test_a_fuzzy_hit_never_changes_the_model_tokens(row, prefix, suffix, drop):
    words = row["name"].split()
    if len(words) > 1 and drop < len(words):
        del words[drop]  # drop one word, as a model string might
    raw = prefix + " " + " ".join(words) + suffix
    match = lookup_tdp(raw)
    if match is None:
        return
    query_tokens = frozenset(normalise_cpu_name(raw).split())
    match_tokens = frozenset(normalise_cpu_name(match.name).split())
    assert cpu_catalog._model_tokens(query_tokens) == cpu_catalog._model_tokens(match_tokens)
    if not match.exact:  # an exact name may have no model number ("Intel Aubrey Isle"); a fuzzy hit must
        assert cpu_catalog._model_tokens(query_tokens)


def test_later_lookups_are_cached():
    lookup_tdp.cache_clear()
    first = lookup_tdp("AMD EPYC 7763 64-Core Processor")
    assert lookup_tdp("AMD EPYC 7763 64-Core Processor") is first
    assert lookup_tdp.cache_info().hits == 1


def test_first_lookup_loads_the_table_quickly():
    code = (
        "import time\n"
        "from carbon_magic.core.cpu_catalog import lookup_tdp\n"
        "start = time.perf_counter()\n"
        "assert lookup_tdp('AMD EPYC 7763 64-Core Processor').tdp_w == 280\n"
        "print(time.perf_counter() - start)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) < 0.2  # ~10 ms measured; generous for slow CI machines


def test_a_model_named_without_digits_matches_only_exactly():
    assert lookup_tdp("Intel(R) Aubrey Isle").tdp_w == 300
    assert lookup_tdp("Intel Aubrey") is None  # no model number: never a fuzzy guess


# --- names as SPEC results and operating systems write them --------------------------------

SPECPOWER_CSV = REPO / "data-sources" / "specpower" / "specpower_ssj2008.csv"


def specpower_cpu_names() -> list[str]:
    with open(SPECPOWER_CSV, encoding="utf-8", newline="") as f:
        return sorted({row["cpu_name"] for row in csv.DictReader(f)})


def test_every_cpu_name_of_the_specpower_data_finds_its_row():
    names = specpower_cpu_names()
    found = [name for name in names if lookup_tdp(name) is not None]
    assert len(names) == 158
    assert len(found) == len(names), sorted(set(names) - set(found))  # hit rate 158 / 158


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Intel Xeon E5-2660 2.20 GHz (Intel Turbo Boost Technology up to 3.00 GHz)", "Intel Xeon E5-2660"),
        ("AMD EPYC 7763 2.45GHz", "AMD EPYC 7763"),
        ("AMD EPYC 7601 2.20 GHz, Dell SKU [338-BNCG]", "AMD EPYC 7601"),
        ("Intel Xeon X5570, 2.933 GHz", "Intel Xeon X5570"),
        ("Intel Xeon Platinum 8280 CPU 2.70 GHz", "Intel Xeon Platinum 8280"),
        ("Intel Xeon E3-1265LV3", "Intel Xeon E3-1265L v3"),
        ("Intel Xeon E3-1220v2 (Intel Turbo Boost Technology up to 3.50 GHz)", "Intel Xeon E3-1220 v2"),
        ("Intel(R) Xeon(R) E-2388G CPU 3.20GHz", "Intel Xeon E-2388G"),
        ("Dual-Core AMD Opteron(tm) Processor 2216 HE", "AMD Opteron 2216 HE"),
        ("AMD Opteron 2216HE", "AMD Opteron 2216 HE"),
        ("Intel Xeon 3.8GHz", "Intel Xeon 3.8"),
    ],
)
def test_names_with_clock_speeds_notes_and_glued_versions_are_found(raw, name):
    match = lookup_tdp(raw)
    assert match is not None and match.name == name


def test_a_clock_speed_is_not_a_model_number():
    # "Intel Xeon Processor 3.4 GHz" is the 2004 Xeon named by its clock, never another CPU with "3.4" in it.
    assert lookup_tdp("Intel Xeon Processor 3.4 GHz").name == "Intel Xeon 3.4"
    assert lookup_tdp("Intel(R) Xeon(R) CPU @ 2.20GHz") is None
    assert lookup_tdp("AMD EPYC 2.45GHz") is None
    # A cloud VM's unnamed Xeon at 3.20 GHz is not the 2004 "Intel Xeon 3.20" of the table.
    assert lookup_tdp("Intel(R) Xeon(R) CPU @ 3.20GHz") is None
    assert cpu_catalog.cpu_generation("Intel(R) Xeon(R) CPU @ 3.20GHz") is None


def test_rows_added_from_the_specpower_data_have_its_tdp():
    with open(SPECPOWER_CSV, encoding="utf-8", newline="") as f:
        spec = {row["cpu_name"]: float(row["tdp_w_per_chip"]) for row in csv.DictReader(f) if row["tdp_w_per_chip"]}
    source_keys = {normalise_cpu_name(name) for name in source_tdps()}
    added = [row for row in table_rows() if row["key"] not in source_keys]
    assert {row["name"] for row in added} == {
        "AMD Opteron 2216 HE", "AMD Opteron 2377 EE", "AMD Opteron 2380", "AMD Opteron 2382", "AMD Opteron 2425 HE",
        "AMD Opteron 2435", "AMD Opteron 6174", "AMD Opteron 8381 HE", "AMD Opteron 8384", "AMD Opteron 8425 HE"}
    for row in added:
        spellings = [tdp for name, tdp in spec.items() if normalise_cpu_name(name) == row["key"]]
        assert spellings and float(row["tdp_w"]) == max(spellings)


@pytest.mark.parametrize(
    ("raw", "vendor", "microarchitecture", "year"),
    [
        ("AMD EPYC 7B13 64-Core Processor", "amd", "epyc3", 2021),
        ("AMD EPYC 9654 96-Core Processor", "amd", "epyc4", 2022),
        ("AMD EPYC 7551P 2.0 GHz", "amd", "epyc1", 2017),
        ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "intel", "icelake", 2021),
        ("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", "intel", "cascadelake", 2019),
        ("Intel Xeon Platinum 8380HL 2.9GHz", "intel", "cooperlake", 2020),
        ("Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz", "intel", "broadwell", 2016),
        ("Intel(R) Xeon(R) CPU E5-2660 0 @ 2.20GHz", "intel", "sandybridge", 2012),
        ("Intel Xeon L5430", "intel", "penryn", 2007),
        ("Intel Xeon 3.8GHz", "intel", "netburst", 2004),
        ("11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz", "intel", "tigerlake", 2020),
        ("Six-Core AMD Opteron(r) Processor 8425 HE", "amd", "opteron-k10", 2009),
        ("AMD Ryzen 9 5950X 16-Core Processor", "amd", "zen3", 2020),
    ],
)
def test_generation_from_the_model_number(raw, vendor, microarchitecture, year):
    assert cpu_catalog.cpu_generation(raw) == cpu_catalog.CpuGeneration(vendor, microarchitecture, year)


@pytest.mark.parametrize("raw", ["AMD 3260 HE", "3280", "Intel(R) Xeon(R) CPU @ 2.20GHz", "AMD EPYC", "Apple M2"])
def test_no_generation_without_a_model_number_of_a_known_family(raw):
    # a bare number is no Xeon: AMD's "3260 HE" is not a 2006 Xeon 3xxx
    assert cpu_catalog.cpu_generation(raw) is None


def test_every_specpower_cpu_has_a_generation_near_its_servers_year():
    with open(SPECPOWER_CSV, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        generation = cpu_catalog.cpu_generation(row["cpu_name"])
        assert generation is not None, row["cpu_name"]
        # a server ships in its CPU's launch year or up to 3 years later (one Gold 6136 server: 2020)
        assert 0 <= int(row["availability_year"]) - generation.launch_year <= 3, row["cpu_name"]


@pytest.mark.parametrize(
    ("raw", "vendor"),
    [("AMD EPYC", "amd"), ("AMD EPYC Processor", "amd"), ("Intel(R) Xeon(R) CPU @ 2.20GHz", "intel"),
     ("Intel Xeon Processor (Cascadelake)", "intel"), ("Six-Core AMD Opteron", "amd"),
     ("QEMU Virtual CPU version 2.5+", None), ("Common KVM processor", None), ("", None)],
)
def test_vendor_of_a_partly_named_cpu(raw, vendor):
    assert cpu_catalog.cpu_vendor(raw) == vendor
    if vendor is None:
        assert cpu_catalog.cpu_generation(raw) is None


@pytest.mark.parametrize(("pattern", "lead"), [
    (r"xeon e5-\d{4}[a-z]* v4", "xeon e5-"), ("ryzen( threadripper)?( pro)? \\d? ?1\\d{3}", "ryzen"),
    ("pentium d", "pentium d"), ("epyc [0-9a-z]{3}1[a-z]*$", "epyc "), (r"^(xeon [a-z]?|[xlew])56\d\d\b", ""),
    ("core ultra|xeon w", ""), ("xeons?", "xeon"), ("ab{2}c", "a"), ("core i[3579]-(1[34])", "core i"),
])
def test_the_text_every_match_starts_with(pattern, lead):
    assert cpu_catalog.leading_text(pattern) == lead


def test_generation_rules_not_tried_for_lack_of_their_leading_text_give_the_same_answers(monkeypatch):
    """Every name of the CPU table and the SPEC data gets the generation it gets when every rule
    is tried: the leading-text filter skips only rules that cannot match."""
    with open(SPECPOWER_CSV, encoding="utf-8", newline="") as f:
        names = [row["cpu_name"] for row in csv.DictReader(f)]
    names += [name for name, _, _ in cpu_catalog.csv_rows(cpu_catalog.TABLE_FILE, cpu_catalog.TABLE_COLUMNS)]
    names += ["AMD EPYC", "Intel Xeon Processor (Skylake)", "QEMU Virtual CPU version 2.5+", "Intel Xeon 3.8GHz"]
    filtered = {name: cpu_catalog.cpu_generation(name) for name in names}
    rules = cpu_catalog._generation_rules()
    assert sum(rule.lead == "" for rule in rules) < len(rules) / 4  # most rules are skipped for most names
    cpu_catalog.cpu_generation.cache_clear()
    every_rule = tuple(rule._replace(lead="") for rule in rules)
    monkeypatch.setattr(cpu_catalog, "_generation_rules", lambda: every_rule)
    try:
        assert {name: cpu_catalog.cpu_generation(name) for name in names} == filtered
        assert sum(generation is not None for generation in filtered.values()) > len(names) / 3  # not vacuous
    finally:
        cpu_catalog.cpu_generation.cache_clear()
