"""Which outputs a configuration selects: CodeCarbon's rule, read by the outputs (to build
them), the extension (is there a CSV file?) and telemetry (which outputs are used)."""

from __future__ import annotations

from typing import Any, Mapping


def selected_methods(config: Mapping[str, Any]) -> set[str]:
    """``output_methods`` if given, else the ``save_to_*`` flags (CodeCarbon's rule)."""
    if config["output_methods"] is not None:
        return set(config["output_methods"])
    flags = {
        "csv": config["save_to_file"],
        "api": config["save_to_api"],
        "logger": config["save_to_logger"],
        "prometheus": config["save_to_prometheus"],
        "logfire": config["save_to_logfire"],
    }
    return {method for method, wanted in flags.items() if wanted}
