"""The two tools under comparison, each driven the same way by ``probe.py``.

A tool knows how to import and load itself in an IPython shell, what a tracked cell looks
like, how to make a tracker, how to point its RAPL reader at a fake powercap tree, and how to
turn an energy into kg CO2 and litres with its own code. Only the tool being measured is
imported: carbon_magic in this repository's virtual environment, CodeCarbon in its own.
"""

from __future__ import annotations

import time
from typing import Any

COUNTRY = "FRA"
CELL_BODY = "x = 1"


class CarbonMagic:
    """carbon_magic: ``%load_ext carbon_magic`` then ``%%carbon`` on the cell."""

    name = "carbon_magic"
    first_cell = warm_cell = f"%%carbon\n{CELL_BODY}"

    def version(self) -> str:
        from carbon_magic import __version__

        return __version__

    def configure_shell(self, config: Any) -> None:
        """Offline with a fixed country, through the documented traitlets route."""
        config.CarbonMagic.offline = True
        config.CarbonMagic.country_iso_code = COUNTRY

    def import_module(self) -> None:
        import carbon_magic  # noqa: F401

    def set_up(self, shell: Any) -> None:
        shell.run_line_magic("load_ext", "carbon_magic")

    def tracker(self, **params: Any) -> Any:
        from carbon_magic import OfflineEmissionsTracker

        return OfflineEmissionsTracker(country_iso_code=COUNTRY, **params)

    def drain(self) -> None:
        """Let the output lanes write what the cells queued (its cost is then in the figures)."""
        from carbon_magic.runtime import current_runtime

        for lane in current_runtime().lanes.all():
            lane.drain(120.0)

    def use_rapl_tree(self, root: str) -> dict[str, Any]:
        """carbon_magic reads any powercap tree through its ``powercap_root`` parameter."""
        return {"powercap_root": root}

    def cpu_method(self, tracker: Any) -> str:
        return tracker.sampler.methods().get("cpu", "?")

    def cpu_energy_j(self, tracker: Any) -> float:
        return tracker.final_emissions_data.cpu_energy * 3.6e6

    def arithmetic(self, params: dict[str, Any], energy_kwh: float, pue: float, wue: float) -> dict[str, Any]:
        """A record of ``energy_kwh`` of CPU energy built by the public tracker's own code
        (location, intensity, PUE, WUE), from two synthetic ledger readings."""
        from carbon_magic.core.ledger import Reading, Window

        from carbon_magic import OfflineEmissionsTracker

        tracker = OfflineEmissionsTracker(**params, pue=pue, wue=wue, save_to_file=False)

        def reading(t: float, energy_j: float) -> Reading:
            return Reading(
                sampler_id=0, t_mono=t, t_wall=time.time(), energy_j={"cpu": energy_j},
                process_energy_j={}, power_w={}, cpu_util_s=0.0, gpu_util_s={}, ram_util_s=0.0,
                ram_used_gb_s=0.0, process_cpu_s=0.0, machine_busy_s=0.0,
            )

        data = tracker.record(Window(reading(0.0, 0.0), reading(3600.0, energy_kwh * 3.6e6), ("cpu",)), "arithmetic")
        return {
            "kg": data.emissions, "litres": data.water_consumed, "energy_kwh": data.energy_consumed,
            "g_per_kwh": data.intensity_g_per_kwh, "source": data.intensity_source,
        }


class CodeCarbon:
    """CodeCarbon 3.3.x: a tracker's ``start()`` and ``stop()`` around the cell's code.

    A stopped CodeCarbon tracker cannot be started again, so every cell after the first
    constructs a new tracker: a warm cell is construct + start + stop. ``log_level="error"``
    keeps its console quiet (its default, "info", logs some twenty lines per run, which would
    only add to its cost); CSV output stays on, as it is by default for both tools.
    """

    name = "CodeCarbon"
    params = {"country_iso_code": COUNTRY, "log_level": "error"}
    first_cell = f"tracker.start()\n{CELL_BODY}\ntracker.stop()"
    warm_cell = f"tracker = OfflineEmissionsTracker(**tracker_params)\ntracker.start()\n{CELL_BODY}\ntracker.stop()"

    def version(self) -> str:
        import codecarbon

        return codecarbon.__version__

    def configure_shell(self, config: Any) -> None:
        pass

    def import_module(self) -> None:
        import codecarbon  # noqa: F401

    def set_up(self, shell: Any) -> None:
        """What a CodeCarbon notebook does before its first tracked cell: make a tracker."""
        from codecarbon import OfflineEmissionsTracker

        shell.user_ns.update(
            OfflineEmissionsTracker=OfflineEmissionsTracker,
            tracker_params=dict(self.params),
            tracker=OfflineEmissionsTracker(**self.params),
        )

    def tracker(self, **params: Any) -> Any:
        from codecarbon import OfflineEmissionsTracker

        return OfflineEmissionsTracker(**self.params, **params)

    def drain(self) -> None:
        """CodeCarbon writes its CSV inside stop(): nothing is left to wait for."""

    def use_rapl_tree(self, root: str) -> dict[str, Any]:
        """Point CodeCarbon's RAPL reader at ``root``, in this process only.

        CodeCarbon 3.3.2 has no parameter for the powercap folder. Two names are replaced:
        - ``codecarbon.core.cpu.is_rapl_available`` (which ``ResourceTracker`` calls with no
          argument, scanning /sys/class/powercap) by the same function with ``rapl_dir=root``;
        - ``codecarbon.external.hardware.IntelRAPL`` (which ``CPU`` builds with its default
          ``rapl_dir="/sys/class/powercap/intel-rapl/subsystem"``) by a function that builds
          the real ``IntelRAPL`` with ``rapl_dir=root``.
        Everything else (domain discovery, RAPLFile reads and wrap handling, the scheduler,
        ``measure_power_secs``) is CodeCarbon's own code, unchanged.
        """
        import functools

        from codecarbon.core import cpu
        from codecarbon.external import hardware

        cpu.is_rapl_available = functools.partial(cpu.is_rapl_available, rapl_dir=root)
        real_rapl = hardware.IntelRAPL

        def rapl_on_tree(rapl_dir: str = "", **options: Any) -> Any:
            return real_rapl(rapl_dir=root, **options)

        hardware.IntelRAPL = rapl_on_tree
        return {}

    def cpu_method(self, tracker: Any) -> str:
        from codecarbon.external.hardware import CPU

        return ", ".join(repr(h) for h in tracker._hardware if isinstance(h, CPU)) or "?"

    def cpu_energy_j(self, tracker: Any) -> float:
        return tracker.final_emissions_data.cpu_energy * 3.6e6

    def arithmetic(self, params: dict[str, Any], energy_kwh: float, pue: float, wue: float) -> dict[str, Any]:
        """CodeCarbon's own PUE, WUE and emissions code on ``energy_kwh`` of CPU energy.

        The tracker's hardware is replaced by one CPU that reports that energy; its
        ``_do_measurements`` (PUE, WUE) and ``_prepare_emissions_data`` (the ``Emissions``
        class, with the location the offline tracker resolved) do the rest. The ``Emissions``
        class is also called directly on the same energy and location, as a cross-check.
        """
        from codecarbon import OfflineEmissionsTracker
        from codecarbon.core.emissions import Emissions
        from codecarbon.core.units import Energy, Power
        from codecarbon.external.hardware import CPU
        from codecarbon.input import DataSource

        class FixedEnergyCPU(CPU):
            def __init__(self, energy: Energy):
                self._energy = energy
                self._mode = "fixed energy"

            def measure_power_and_energy(self, last_duration: float) -> tuple[Power, Energy]:
                return Power.from_watts(0.0), self._energy

        tracker = OfflineEmissionsTracker(**params, pue=pue, wue=wue, save_to_file=False, log_level="error")
        tracker._hardware = [FixedEnergyCPU(Energy.from_energy(kWh=energy_kwh))]
        tracker._hardware_initialized = True
        tracker._start_time = tracker._last_measured_time = time.perf_counter()
        tracker._do_measurements()
        data = tracker._prepare_emissions_data()
        energy = Energy.from_energy(kWh=energy_kwh * pue)
        cloud, geo = tracker._get_cloud_metadata(), tracker._get_geo_metadata()
        emissions = Emissions(DataSource())
        direct_kg = (
            emissions.get_private_infra_emissions(energy, geo) if cloud.is_on_private_infra
            else emissions.get_cloud_emissions(energy, cloud, geo)
        )
        return {
            "kg": data.emissions, "litres": data.water_consumed, "energy_kwh": data.energy_consumed,
            "g_per_kwh": data.emissions / data.energy_consumed * 1000, "emissions_class_kg": direct_kg,
            "source": f"{geo.country_iso_code or '-'} / {geo.region or '-'} / {cloud.provider or '-'} {cloud.region or ''}".strip(),
        }


TOOLS = {"carbon_magic": CarbonMagic, "codecarbon": CodeCarbon}
