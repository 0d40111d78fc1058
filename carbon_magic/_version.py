"""The package's version, written once: in package.json (the Python package and the sidebar's
npm package are one release). The build writes it into ``_build_version.py`` (not in git); a
source tree that was never built or installed (copied to a machine to run ``core/``) reads
package.json itself."""

try:
    from ._build_version import __version__
except ModuleNotFoundError:
    import json
    from pathlib import Path

    __version__ = json.loads((Path(__file__).parents[1] / "package.json").read_text())["version"]
