"""Where this process runs and how carbon-intensive its electricity is.

``LocationService`` (``service``; one per runtime, handed to trackers) answers
``current(config) -> (Location, Intensity)`` in microseconds from a memo, resolving in the
background; its threads publish through its ``board`` (one lock, a generation counter, closed
or not):

- Parameters (``country_iso_code``, ``region``, ``cloud_provider`` + ``cloud_region``) when
  given. Offline mode (``offline=True`` or ``country_iso_code``) opens no socket, ever.
- Otherwise, in the background and in parallel (``resolution``): cloud detection (``cloud``:
  metadata endpoints at ``cloud_metadata_url``, cached for the process), and IP geolocation
  (``geolocation``: ``geolocation_endpoint``, cached on disk for a day). Until geolocation
  answers, and if it fails, the country of the system time zone (``timezone_country``) is
  the guess; without one, the world average. A placed cloud region beats geolocation.
- Live intensity (``live``, ``electricitymaps``): with ``electricitymaps_api_token``
  (online), Electricity Maps for ``country_2letter_iso_code`` or the located zone, at most
  one request per zone per 15 minutes (cached on disk across processes), refreshed while
  trackers run or records are built. A failed request keeps the last good value (up to a
  day old), then the tables.
- ``intensity``: the Location and Intensity values and the intensity order; ``parameters``:
  the location that parameters give, and offline mode (pure table lookups, no I/O).

Measurements made while a resolution is pending use the best value known so far; records
built after it arrives use the resolved figure (energy is exact; emissions follow). A live
feed's intensity is weighed into the ledger by the sampler (``Sampler.weigh_by``), energy
used before its first value by the value known when the record is built.
"""

from .intensity import Intensity, IntensitySignal, Location
from .service import LocationService

__all__ = ["Intensity", "IntensitySignal", "Location", "LocationService"]
