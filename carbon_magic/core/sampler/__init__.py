"""The sampler: owns the meters, keeps the cumulative ledger, serves readings.

One ``Sampler`` per distinct HardwareSpec (normally one per process), made on first use by
the runtime's ``SamplerRegistry``. Its parts, one job each:

- ``ledger_keeper``: brings every meter and utilisation integral up to an instant, keeps the
  totals continuous across meter swaps, builds the Reading;
- ``weighing`` and ``wall_clock``: energy weighed by live intensity signals, and wall-clock
  timestamps with clock jumps noted;
- ``scheduler``: the background thread, its interval leases and listeners;
- ``settler``: fast polling of slow counters (GPUs) and settling of provisional readings;
- ``sampler``: the Sampler, the three parts behind one lock (and after a fork);
- ``registry``: the SamplerRegistry.
"""

from .registry import SamplerRegistry
from .sampler import Sampler
from .scheduler import Lease, Subscription

__all__ = ["Lease", "Sampler", "SamplerRegistry", "Subscription"]
