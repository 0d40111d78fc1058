"""A small tz database folder (zone.tab, zone1970.tab, zone files, a link) for time-zone tests."""

from __future__ import annotations

from pathlib import Path

ZONES = ("Europe/Paris", "Europe/Brussels", "Europe/Amsterdam", "Europe/Berlin", "America/New_York",
         "Etc/UTC", "Asia/Dubai")
ZONE_TAB = (
    "# comment\nFR\t+4852+00220\tEurope/Paris\nNL\t+5222+00454\tEurope/Amsterdam\n"
    "DE\t+5230+01322\tEurope/Berlin\tmost of Germany\n"
    "US\t+404251-0740023\tAmerica/New_York\tEastern (most areas)\n"
)
ZONE1970_TAB = (
    "#codes\tcoordinates\tTZ\tcomments\nBE,LU,NL\t+5050+00420\tEurope/Brussels\n"
    "AE,OM,RE,SC,TF\t+2518+05518\tAsia/Dubai\tCrozet\n"
)


def write_tz_database(root: Path) -> Path:
    """Write the folder at ``root`` and return it."""
    for zone in ZONES:
        (root / zone).parent.mkdir(parents=True, exist_ok=True)
        (root / zone).write_bytes(b"TZif2")
    (root / "US").mkdir()
    (root / "US" / "Eastern").symlink_to("../America/New_York")
    (root / "zone.tab").write_text(ZONE_TAB)
    (root / "zone1970.tab").write_text(ZONE1970_TAB)
    return root
