"""Whether a folder is on a local disk, where appending a row never blocks for long.

A write to a network file system (NFS, SMB, sshfs) can block for as long as the server
does not answer; one to a local disk lands in the page cache. Rows are written on the
caller's thread only on a local disk (``csv_file.RowAppender.append_now``); elsewhere they
go to the output lane, as any output. Mounts from ``/proc/self/mountinfo``, else psutil
(Windows, macOS). Unknown (a file system not in the table): not local.
"""

from __future__ import annotations

import os
from pathlib import Path

MOUNTINFO = "/proc/self/mountinfo"
LOCAL_FILE_SYSTEMS = frozenset({
    "ext2", "ext3", "ext4", "xfs", "btrfs", "bcachefs", "f2fs", "jfs", "reiserfs", "zfs",
    "tmpfs", "ramfs", "overlay", "vfat", "exfat", "ntfs3", "hfsplus", "apfs",
    "ntfs", "refs", "fat32", "hfs",  # as psutil names them on Windows and macOS
})


def _unescape(field: str) -> str:
    """A mountinfo path field: spaces, tabs, newlines and backslashes are octal escapes."""
    return field.encode("latin-1").decode("unicode_escape") if "\\" in field else field


def _mounts() -> list[tuple[str, str]]:
    """(mount point, file system type) of every mount: mountinfo, else psutil (Windows, macOS)."""
    try:
        with open(MOUNTINFO, encoding="utf-8", errors="surrogateescape") as lines:
            rows = [line.split() for line in lines]
    except OSError:
        import psutil

        return [(part.mountpoint, part.fstype.lower()) for part in psutil.disk_partitions(all=True)]
    return [(_unescape(fields[4]), fields[fields.index("-", 6) + 1]) for fields in rows if "-" in fields[6:]]


def file_system_of(folder: Path) -> str | None:
    """The type of the file system holding ``folder`` (the longest mount point above it)."""
    target = os.path.normcase(os.path.realpath(folder))
    best, kind = -1, None
    for point, fs_type in _mounts():
        point = os.path.normcase(point)
        inside = target == point or target.startswith(point.rstrip("/\\") + os.sep)
        if inside and len(point) > best:
            best, kind = len(point), fs_type
    return kind


def on_local_disk(folder: Path) -> bool:
    """True if ``folder`` is on a local file system (see the module docstring)."""
    return file_system_of(folder) in LOCAL_FILE_SYSTEMS
