"""Write docs/parameters.md from the one parameter table (core/params.py). `--check` compares."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from carbon_magic.core.params import AFFECTS, magic_markdown_table, markdown_table  # noqa: E402

TARGET = REPO / "docs" / "parameters.md"
HEADER = """# Tracker parameters

Every parameter of CodeCarbon 3.3's trackers, with the same names and defaults, plus
carbon_magic's own. Each can be given as a tracker argument, a `%%carbon --kebab-case`
option, a `CarbonMagic` traitlets setting, a `CODECARBON_<NAME>` environment variable or a
`name = value` line in the `[codecarbon]` section of `./.codecarbon.config` or
`~/.codecarbon.config` (highest priority first). `%carbon config` shows where each value
came from.

Generated from `carbon_magic/core/params.py` by `python scripts/gen_docs.py`.
Secrets (`api_key`, the tokens) are refused as magic options: a magic line is saved in the
notebook. `%carbon --help-all` shows the same list in a notebook.

"""
MAGIC_HEADER = """
## The magics' own options

Options of `%carbon` and `%%carbon` that are not tracker parameters (no environment
variable, no config file); those with a `CarbonMagic` setting apply to every cell when set
with `%config`.

"""


def affects_list() -> str:
    """What the ``affects`` column means."""
    return "\n".join(f"- `{name}`: {meaning}" for name, meaning in AFFECTS.items())


def render() -> str:
    return (HEADER + "What a parameter affects (what is recomputed when it changes):\n\n" + affects_list()
            + "\n\n" + markdown_table() + "\n" + MAGIC_HEADER + magic_markdown_table() + "\n")


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if TARGET.read_text() != text:
            print("docs/parameters.md is out of date: run python scripts/gen_docs.py")
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
