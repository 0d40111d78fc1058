"""Cloud detection: the AWS, Azure and GCP instance metadata endpoints, probed in parallel.

All three live at one base URL (the ``cloud_metadata_url`` parameter, default
``http://169.254.169.254``), each with its own path and header:

- AWS: ``PUT /latest/api/token`` (IMDSv2; skipped on a v1-only endpoint), then
  ``GET /latest/dynamic/instance-identity/document`` -> JSON ``region``.
- Azure: ``GET /metadata/instance/compute?api-version=2021-02-01`` with ``Metadata: true``
  -> JSON ``location``.
- GCP: ``GET /computeMetadata/v1/instance/zone`` with ``Metadata-Flavor: Google`` -> text
  ``projects/<n>/zones/<zone>``; the answer must carry ``Metadata-Flavor: Google`` too.

Off a cloud these requests are refused or time out: that is an answer (no cloud), not a
problem. Background only.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass
from typing import Callable

from ..http import FetchError, fetch

AWS_TOKEN_PATH = "/latest/api/token"
AWS_DOCUMENT_PATH = "/latest/dynamic/instance-identity/document"
AZURE_PATH = "/metadata/instance/compute?api-version=2021-02-01&format=json"
GCP_ZONE_PATH = "/computeMetadata/v1/instance/zone"


@dataclass(frozen=True)
class CloudFound:
    """A detected cloud: provider ("aws", "azure", "gcp") and region id."""

    provider: str
    region: str


def _text_field(data: object, name: str) -> str | None:
    value = data.get(name) if isinstance(data, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def probe_aws(base_url: str, timeout_s: float) -> CloudFound | None:
    headers = {}
    try:
        token = fetch(base_url + AWS_TOKEN_PATH, method="PUT", timeout_s=timeout_s,
                      headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    except FetchError as error:
        if error.status is None:
            return None  # nothing answers there
    else:
        headers["X-aws-ec2-metadata-token"] = token.body.decode("ascii", "replace").strip()
    document = fetch(base_url + AWS_DOCUMENT_PATH, timeout_s=timeout_s, headers=headers)
    region = _text_field(document.json("AWS metadata"), "region")
    return CloudFound("aws", region) if region else None


def probe_azure(base_url: str, timeout_s: float) -> CloudFound | None:
    answer = fetch(base_url + AZURE_PATH, timeout_s=timeout_s, headers={"Metadata": "true"})
    region = _text_field(answer.json("Azure metadata"), "location")
    return CloudFound("azure", region.lower()) if region else None


def probe_gcp(base_url: str, timeout_s: float) -> CloudFound | None:
    answer = fetch(base_url + GCP_ZONE_PATH, timeout_s=timeout_s, headers={"Metadata-Flavor": "Google"})
    if answer.headers.get("metadata-flavor") != "Google":
        return None
    zone = answer.body.decode("ascii", "replace").strip().rsplit("/", 1)[-1]
    region, _, suffix = zone.rpartition("-")
    return CloudFound("gcp", region) if region and suffix else None


PROBES: tuple[Callable[[str, float], CloudFound | None], ...] = (probe_aws, probe_azure, probe_gcp)


def _quiet(probe: Callable[[str, float], CloudFound | None], base_url: str, timeout_s: float) -> CloudFound | None:
    try:
        return probe(base_url, timeout_s)
    except FetchError:
        return None


def detect(base_url: str, timeout_s: float) -> CloudFound | None:
    """The first cloud whose metadata endpoint answers, probing all three at once; None off a cloud."""
    base_url = base_url.rstrip("/")
    pool = concurrent.futures.ThreadPoolExecutor(len(PROBES), thread_name_prefix="carbon_magic-location-probe")
    try:
        futures = [pool.submit(_quiet, probe, base_url, timeout_s) for probe in PROBES]
        for future in concurrent.futures.as_completed(futures):
            found = future.result()
            if found is not None:
                return found
        return None
    finally:
        pool.shutdown(wait=False)
