"""``%carbon telemetry ...``: plain functions returning the text to display.

    %carbon telemetry                        the tier, where it came from, what was sent
    %carbon telemetry disabled|minimal|extensive    store a choice
    %carbon telemetry preview [minimal|extensive]   the exact JSON (of the tier in effect)
    %carbon telemetry host-hash on|off      allow or refuse the salted machine fingerprint

``telemetry_command(telemetry, arguments)`` dispatches (``telemetry``: the runtime's
``TelemetryLifecycle``); bad arguments raise ValueError naming what was
wrong and what is accepted.
"""

from __future__ import annotations

from ..core.config import Config
from ..core.http_transport import safe_url
from ..core.problems import problems
from .levels import DISABLED, LEVELS, PROMPT_TEXTS, VISIBILITY
from .lifecycle import TelemetryLifecycle, endpoint
from .payload import shown
from .sender import DEBUG_VARIABLE

USAGE = (
    "%carbon telemetry [disabled | minimal | extensive | preview [minimal | extensive] | "
    "host-hash on|off]"
)


def telemetry_command(telemetry: TelemetryLifecycle, arguments: str, config: Config | None = None) -> str:
    """Run ``%carbon telemetry <arguments>``; the text to display."""
    words = arguments.split()
    lowered = [word.lower() for word in words]
    if not words:
        return status(telemetry, config)
    if len(words) == 1 and lowered[0] in LEVELS:
        return set_level(telemetry, lowered[0])
    if lowered[0] == "preview" and len(words) <= 2:
        return preview(telemetry, lowered[1] if len(words) == 2 else None, config)
    if lowered[0] == "host-hash" and len(words) == 2 and lowered[1] in ("on", "off"):
        return set_host_hash(telemetry, lowered[1] == "on")
    raise ValueError(f"%carbon telemetry: cannot understand {arguments.strip()!r}. Accepted: {USAGE}")


def status(telemetry: TelemetryLifecycle, config: Config | None = None) -> str:
    """The tier in effect, where it came from, what each tier sends and what was sent."""
    config = config if config is not None else telemetry.kernel_config()
    resolution = telemetry.current_level(config)
    store = telemetry.consent_store()
    lines = [f"carbon_magic telemetry: {resolution.level} (from {resolution.source})"]
    for level in LEVELS:
        marker = ">" if level == resolution.level else " "
        lines.append(f"  {marker} {level:<9}  {PROMPT_TEXTS[level]} ({VISIBILITY[level]})")
    lines.append("When: once per kernel after the first tracked cell; extensive also sends a "
                 "summary at kernel exit.")
    lines.append(f"Where: {safe_url(endpoint(config))} (parameter telemetry_endpoint).")
    fingerprint = "allowed" if store.choice().host_machine_hash else "not sent"
    lines.append(f"host_machine_hash (a salted machine fingerprint, extensive only): {fingerprint}; "
                 f"`%carbon telemetry host-hash on|off` changes it.")
    if telemetry.question_outcome():
        lines.append(f"First-run question: {telemetry.question_outcome()}.")
    deliveries = telemetry.sender.deliveries
    if deliveries:
        lines.append("Sent by this kernel:")
        lines += [f"  {d.at} {d.what} ({d.level}): {d.outcome}" for d in deliveries]
    else:
        lines.append("Sent by this kernel: nothing.")
    if telemetry.sender.debug():
        lines.append(f"{DEBUG_VARIABLE} is set: payloads are printed, not sent.")
    lines.append("See the exact JSON: `%carbon telemetry preview`. Change: `%carbon telemetry "
                 "disabled|minimal|extensive`. DO_NOT_TRACK=1 turns everything off.")
    return "\n".join(lines)


def set_level(telemetry: TelemetryLifecycle, level: str) -> str:
    """Store a chosen tier (``%carbon telemetry <tier>``)."""
    return telemetry.choose(level, "command")


def set_host_hash(telemetry: TelemetryLifecycle, allowed: bool) -> str:
    """Allow or refuse ``host_machine_hash`` (extensive tier only)."""
    store = telemetry.consent_store()
    stored = store.store_host_machine_hash(allowed)
    state = "allowed" if allowed else "not sent"
    where = f"stored in {store.path}" if stored else f"for this session only: could not write {store.path}"
    note = " It is sent only with the extensive tier." if allowed else ""
    return f"carbon_magic telemetry: host_machine_hash {state}, {where}.{note}"


def preview(telemetry: TelemetryLifecycle, level: str | None = None, config: Config | None = None) -> str:
    """The exact JSON the tier in effect (or ``level``) would send now."""
    if level is not None and level not in LEVELS:
        raise ValueError(f"%carbon telemetry preview: unknown tier {level!r}; accepted: minimal, extensive")
    config = config if config is not None else telemetry.kernel_config()
    resolution = telemetry.current_level(config)
    level = level or resolution.level
    if level == DISABLED:
        return (f"carbon_magic telemetry is disabled (from {resolution.source}): nothing is sent. "
                "To see what a tier would send: `%carbon telemetry preview minimal` (or extensive).")
    try:
        payload = telemetry.payload_now(level, config)
    except Exception as error:  # a preview must not break the magic either
        problems.note("telemetry preview", error)
        return f"carbon_magic telemetry: could not build the {level} payload ({type(error).__name__}: {error})."
    target = safe_url(endpoint(config))
    if level == resolution.level:
        header = f"The exact JSON sent to {target} (timestamp and figures as of now):"
    else:
        header = (f"What the {level} tier would send to {target} (not in effect: telemetry is "
                  f"{resolution.level}, from {resolution.source}):")
    return f"{header}\n{shown(payload)}"
