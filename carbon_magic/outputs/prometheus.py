"""Prometheus push gateway at ``prometheus_url``: CodeCarbon's metrics, plus water.

Pushed at every flush(), stop() and live tick, under job ``<project>_<experiment>``
(sanitised; grouped by job only, as CodeCarbon does):

- gauges, what the run added since the previous push (CodeCarbon's "since last measure"):
  codecarbon_duration (s), codecarbon_emissions (kg CO2eq), codecarbon_emissions_rate
  (kg/s), codecarbon_cpu_power / _gpu_power / _ram_power (W), codecarbon_cpu_energy /
  _gpu_energy / _ram_energy / _energy_consumed (kWh) and codecarbon_water_consumed (L),
  which CodeCarbon omits; codecarbon_platform_power (W) and codecarbon_platform_energy (kWh),
  the modelled rest of the machine (board, fans, disks, power supply losses), which CodeCarbon
  has no component for: ``energy_consumed = cpu + gpu + ram + platform energy`` (the platform
  gauges are 0 with ``count_platform=False``, and the sum is CodeCarbon's cpu + gpu + ram);
- counter codecarbon_energy_total (kWh), the energy of every push added up; likewise
  codecarbon_co2_total (kg) and codecarbon_water_total (L), and codecarbon_runs_total,
  the runs (tracked cells, spans, tracker runs) that pushed: a fleet's totals over any time
  range are ``increase()`` of these, which the gauges cannot give.

Every series carries CodeCarbon's 14 labels, all filled from the record (CodeCarbon fills
only project_name). Each process pushes its own group, ``job`` plus ``kernel``, ``user`` and
``notebook`` (``grouping_key``), so the kernels of one project, a JupyterHub's, do not
replace each other's series (CodeCarbon groups by job only). HTTP basic auth comes from ``PROMETHEUS_USERNAME`` and
``PROMETHEUS_PASSWORD``, read at each push. At interpreter exit the job is deleted from
the gateway. ``prometheus_client`` is imported at the first push, on the prometheus lane.
"""

from __future__ import annotations

import functools
import getpass
import os
import re
import socket
from typing import Any, Iterable

from ..core.http_transport import READ_TIMEOUT_S, DeliveryError, basic_auth_token, safe_url, scrub, url_secrets
from ..core.record import EmissionsData
from .delivery import RETRY_DELAYS_S, RetryingOutput
from .deltas import RunDeltas

LABELS = (
    "project_name", "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region",
    "os", "codecarbon_version", "cpu_model", "cpu_count", "gpu_model", "gpu_count", "tracking_mode",
    "ram_total_size",
)
# record field -> (metric name, help)
GAUGES = {
    "duration": ("codecarbon_duration", "Duration since the previous push (s)"),
    "emissions": ("codecarbon_emissions", "Emissions since the previous push, CO2-equivalents (kg)"),
    "emissions_rate": ("codecarbon_emissions_rate", "Emissions per second since the previous push (kg/s)"),
    "cpu_power": ("codecarbon_cpu_power", "Average CPU power since the previous push (W)"),
    "gpu_power": ("codecarbon_gpu_power", "Average GPU power since the previous push (W)"),
    "ram_power": ("codecarbon_ram_power", "Average RAM power since the previous push (W)"),
    "cpu_energy": ("codecarbon_cpu_energy", "CPU energy since the previous push (kWh)"),
    "gpu_energy": ("codecarbon_gpu_energy", "GPU energy since the previous push (kWh)"),
    "ram_energy": ("codecarbon_ram_energy", "RAM energy since the previous push (kWh)"),
    "energy_consumed": ("codecarbon_energy_consumed", "CPU + GPU + RAM + platform energy since the previous push (kWh)"),
    "water_consumed": ("codecarbon_water_consumed", "Water consumed since the previous push (L)"),
    "platform_power": ("codecarbon_platform_power",
                       "Average platform power (board, fans, disks, power supply losses; modelled) since the previous push (W)"),
    "platform_energy": ("codecarbon_platform_energy", "Platform energy since the previous push (kWh)"),
}
# record field -> (counter name, help): the field of every push added up
COUNTERS = {
    "energy_consumed": ("codecarbon_energy_total", "CPU + GPU + RAM + platform energy, accumulated over pushes (kWh)"),
    "emissions": ("codecarbon_co2_total", "Emissions, CO2-equivalents, accumulated over pushes (kg)"),
    "water_consumed": ("codecarbon_water_total", "Water consumed, accumulated over pushes (L)"),
}
RUNS_TOTAL = ("codecarbon_runs_total", "Runs (tracked cells, spans, tracker runs) that pushed")
GROUPING_LABELS = ("kernel", "user", "notebook")


def grouping_key() -> dict[str, str]:
    """This process's group on the gateway: ``kernel`` '<host>:<pid>', ``user`` the JupyterHub
    user (``JUPYTERHUB_USER``), else the login name, ``notebook`` the notebook's path on the
    Jupyter server that started this kernel (``JPY_SESSION_NAME``; '' elsewhere)."""
    try:
        login = getpass.getuser()
    except Exception:  # no passwd entry (a container's random uid)
        login = ""
    return {"kernel": f"{socket.gethostname()}:{os.getpid()}",
            "user": os.environ.get("JUPYTERHUB_USER") or login,
            "notebook": os.environ.get("JPY_SESSION_NAME", "")}


def job_name(project_name: str, experiment: str | None) -> str:
    """``<project>_<experiment>`` (the project alone without an experiment), every character
    outside ``[A-Za-z0-9_]`` replaced by ``_``."""
    raw = f"{project_name}_{experiment}" if experiment else project_name
    return re.sub(r"[^A-Za-z0-9_]", "_", raw)


def label_values(total: EmissionsData) -> dict[str, str]:
    """CodeCarbon's labels from the record ('' for what is unknown)."""
    return {name: "" if getattr(total, name) is None else str(getattr(total, name)) for name in LABELS}


class _JobMetrics:
    """The registry of one job on one gateway, shared by every output pushing that job
    (a push replaces the job's whole group on the gateway)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry()
        self.gauges = {field: Gauge(name, help_text, LABELS, registry=self.registry)
                       for field, (name, help_text) in GAUGES.items()}
        self.counters = {field: Counter(name, help_text, LABELS, registry=self.registry)
                         for field, (name, help_text) in COUNTERS.items()}
        self.runs_total = Counter(*RUNS_TOTAL, LABELS, registry=self.registry)
        self.grouping = grouping_key()


def _auth_handler(url: str, method: str, timeout: float | None, headers: list, data: bytes) -> Any:
    from prometheus_client.exposition import basic_auth_handler

    return basic_auth_handler(url, method, timeout, headers, data,
                              os.environ.get("PROMETHEUS_USERNAME"), os.environ.get("PROMETHEUS_PASSWORD"))


def _secrets(url: str) -> tuple[str | None, ...]:
    password = os.environ.get("PROMETHEUS_PASSWORD")
    return (password, basic_auth_token(os.environ.get("PROMETHEUS_USERNAME"), password), *url_secrets(url))


def delete_job(prometheus_url: str, job: str, grouping: dict[str, str], timeout_s: float = READ_TIMEOUT_S) -> None:
    """Delete ``job``'s group ``grouping`` from the gateway (raises DeliveryError, scrubbed, on failure)."""
    from prometheus_client import delete_from_gateway

    try:
        delete_from_gateway(prometheus_url, job=job, grouping_key=grouping, timeout=timeout_s, handler=_auth_handler)
    except Exception as error:
        raise DeliveryError(scrub(f"deleting job {job!r} from {safe_url(prometheus_url)}: "
                                  f"{type(error).__name__}: {error}", _secrets(prometheus_url))[:300]) from None


class PrometheusOutput(RetryingOutput):
    """Pushes CodeCarbon's metrics (and water) to a push gateway (see the module doc)."""

    lane = "prometheus"
    where = "output prometheus"

    def __init__(
        self,
        prometheus_url: str,
        job: str = "codecarbon",
        *,
        retry_delays_s: Iterable[float] = RETRY_DELAYS_S,
        timeout_s: float = READ_TIMEOUT_S,
    ):
        super().__init__(retry_delays_s)
        self.prometheus_url = prometheus_url
        self.job = job
        self.timeout_s = timeout_s
        self._deltas = RunDeltas()
        self._unpushed = False

    def __repr__(self) -> str:
        return f"PrometheusOutput({safe_url(self.prometheus_url)!r}, job={self.job!r})"

    def _secrets(self) -> tuple[str | None, ...]:
        return _secrets(self.prometheus_url)

    def _metrics(self) -> _JobMetrics:
        """The job's registry, one per process (``services.shared``); the job is deleted
        from the gateway at exit."""
        key = ("prometheus job", self.prometheus_url, self.job)
        metrics = self.services.shared(key, _JobMetrics)
        self.services.lanes.on_exit(functools.partial(delete_job, self.prometheus_url, self.job, metrics.grouping,
                                                      self.timeout_s),
                                    lane_name=self.lane, key=key)
        return metrics

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        new_run = not self._deltas.reported(total.run_id)
        part = self._deltas.since_last(total)
        if part is None:
            return
        metrics = self._metrics()
        labels = label_values(total)
        for field, gauge in metrics.gauges.items():
            gauge.labels(**labels).set(getattr(part, field))
        for field, counter in metrics.counters.items():
            counter.labels(**labels).inc(max(getattr(part, field), 0.0))
        if new_run:
            metrics.runs_total.labels(**labels).inc()
        self._unpushed = True
        self._send()

    def live_out(self, total: EmissionsData, delta: EmissionsData) -> None:
        self.out(total, delta)

    def _deliver_some(self) -> bool:
        from prometheus_client import push_to_gateway

        if self._unpushed:
            metrics = self._metrics()
            push_to_gateway(self.prometheus_url, job=self.job, registry=metrics.registry,
                            grouping_key=metrics.grouping, timeout=self.timeout_s, handler=_auth_handler)
            self._unpushed = False
        return False

    def _give_up(self, error: DeliveryError) -> None:
        """Nothing is dropped: the registry keeps the values and the next push carries them."""
