"""The country of the system time zone: the location guess when IP geolocation fails.

The local zone name comes from ``TZ`` (a zone name such as ``Europe/Paris``; POSIX rules
such as ``CET-1CEST`` name no place), then the ``/etc/localtime`` link, then
``/etc/timezone``. Its country comes from the tz database: ``zone.tab`` (one country per
zone, the zone's own), then ``zone1970.tab`` (the first country listed is the one of the
zone's principal location), then the same lookups for the zone a link points to
(``US/Eastern`` -> ``America/New_York``). Zones such as ``Etc/UTC`` have no country.

File reads only: the location service calls this from its background thread.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

LOCALTIME = Path("/etc/localtime")
TIMEZONE_FILE = Path("/etc/timezone")
ZONE_TABLES = ("zone.tab", "zone1970.tab")


def tz_data_dirs() -> list[Path]:
    """Folders of the tz database: the system's (``zoneinfo.TZPATH``), then the tzdata package's
    (found by its spec, as installed, unpacked: ``importlib.resources`` would import its readers
    and zipfile into every kernel whose location is looked up)."""
    import importlib.util
    import zoneinfo

    folders = [Path(p) for p in zoneinfo.TZPATH]
    try:
        tzdata = importlib.util.find_spec("tzdata")
    except (ImportError, ValueError):
        tzdata = None
    if tzdata is not None and tzdata.submodule_search_locations:
        folders += [Path(location) / "zoneinfo" for location in tzdata.submodule_search_locations]
    return [folder for folder in folders if folder.is_dir()]


def _zone_after_zoneinfo(path: str) -> str | None:
    """"/usr/share/zoneinfo/Europe/Paris" -> "Europe/Paris"."""
    marker = "zoneinfo/"
    index = path.rfind(marker)
    return path[index + len(marker):] if index >= 0 else None


def _known_zone(name: str, data_dirs: Iterable[Path]) -> bool:
    return bool(name) and ".." not in name and any((folder / name).is_file() for folder in data_dirs)


def local_zone_name(
    environ: Mapping[str, str] | None = None,
    localtime: Path = LOCALTIME,
    timezone_file: Path = TIMEZONE_FILE,
    data_dirs: list[Path] | None = None,
) -> str | None:
    """The name of the local time zone ("Europe/Paris"), or None if it names no zone."""
    environ = os.environ if environ is None else environ
    dirs = tz_data_dirs() if data_dirs is None else data_dirs
    tz = environ.get("TZ")
    if tz is not None:
        name = tz.strip().lstrip(":")
        if name.startswith("/"):
            name = _zone_after_zoneinfo(os.path.realpath(name)) or ""
        return name if _known_zone(name, dirs) else None
    if localtime.is_symlink():
        linked = _zone_after_zoneinfo(os.readlink(localtime))
        if linked and _known_zone(linked, dirs):
            return linked
    try:
        name = timezone_file.read_text(encoding="utf-8").strip().splitlines()[0].strip()
    except (OSError, UnicodeDecodeError, IndexError):
        return None
    return name if _known_zone(name, dirs) else None


def _table_country(zone: str, data_dirs: Iterable[Path]) -> str | None:
    for folder in data_dirs:
        for table in ZONE_TABLES:
            try:
                text = (folder / table).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for line in text.splitlines():
                columns = line.split("\t")
                if line.startswith("#") or len(columns) < 3:
                    continue
                if columns[2] == zone:
                    return columns[0].split(",")[0]
    return None


def zone_country_iso2(zone: str, data_dirs: list[Path] | None = None) -> str | None:
    """The ISO 3166-1 alpha-2 code of the zone's country, or None (UTC, unknown zones)."""
    dirs = tz_data_dirs() if data_dirs is None else data_dirs
    code = _table_country(zone, dirs)
    if code is not None:
        return code
    for folder in dirs:
        target = folder / zone
        if target.is_symlink():
            linked = os.path.relpath(os.path.realpath(target), os.path.realpath(folder))
            if linked != zone and not linked.startswith(".."):
                return _table_country(linked, dirs)
    return None
