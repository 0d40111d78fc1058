"""Secrets never written anywhere: a session with a CodeCarbon API key, an Electricity Maps
token, a push-gateway password and an endpoint URL password, every output on, log level
debug, telemetry sent and previewed, and a hostile server that echoes credentials back in its
error answers. Everything the session wrote or showed is then searched for those secrets."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.servers import LocalServer, Reply, codecarbon_api, status

API_KEY = "cc-api-key-5ecret-0001"
EM_TOKEN = "em-token-5ecret-0002"
PUSH_PASSWORD = "push-pw-5ecret-0003"
URL_PASSWORD = "url-pw-5ecret-0004"
SECRETS = {
    "api_key": API_KEY,
    "electricitymaps_api_token": EM_TOKEN,
    "PROMETHEUS_PASSWORD": PUSH_PASSWORD,
    "emissions_endpoint password": URL_PASSWORD,
    "push basic auth (base64)": base64.b64encode(f"pusher:{PUSH_PASSWORD}".encode()).decode(),
    "endpoint basic auth (base64)": base64.b64encode(f"poster:{URL_PASSWORD}".encode()).decode(),
}
# Where a secret is meant to go: its own service's credential header, nowhere else.
CREDENTIAL_HEADERS = ("x-api-token", "auth-token", "authorization")
EM = {"zone": "FR", "carbonIntensity": 250, "datetime": "2025-03-01T10:00:00.000Z"}


def echo_credentials(request) -> Reply:
    """A hostile server: a 500 whose body repeats the credentials it was sent."""
    echoed = " ".join(f"{name}={request.headers.get(name, '')}" for name in CREDENTIAL_HEADERS)
    return status(500, f"server error; you sent {echoed}")


def every_file_text(*folders: Path) -> str:
    return "\n".join(path.read_bytes().decode("utf-8", "replace")
                     for folder in folders for path in sorted(folder.rglob("*")) if path.is_file())


def test_no_secret_reaches_logs_files_reprs_errors_or_telemetry(open_notebook, isolated, figures, caplog, capfd,
                                                                 fresh_telemetry, monkeypatch):
    """With an API key, an Electricity Maps token, a push-gateway password and an endpoint
    password set, every output on, debug logging and telemetry: no secret (nor its base64
    basic-auth form) is in any log line, file written, repr, error, status, report or
    telemetry payload, even when a server echoes it back; each went only to its own service."""
    figures.fault("4 secrets; API, endpoint, push gateway, logger, CSV, telemetry on; log level debug; "
                  "a server echoing credentials in 500 answers")
    caplog.set_level(logging.DEBUG)
    server = LocalServer({("GET", "/em"): Reply(body=EM)}, default=codecarbon_api())
    server.routes[("POST", "/emissions")] = echo_credentials
    server.routes[("POST", "/api/runs/api-run-1/emissions")] = echo_credentials
    monkeypatch.setenv("PROMETHEUS_USERNAME", "pusher")
    monkeypatch.setenv("PROMETHEUS_PASSWORD", PUSH_PASSWORD)
    host = server.url.removeprefix("http://")
    try:
        notebook = open_notebook(
            offline=False,
            CODECARBON_COUNTRY_2LETTER_ISO_CODE="FR",
            CODECARBON_ELECTRICITYMAPS_API_TOKEN=EM_TOKEN,
            CODECARBON_ELECTRICITYMAPS_ENDPOINT=server.url + "/em",
            CODECARBON_SAVE_TO_API="true", CODECARBON_API_KEY=API_KEY, CODECARBON_EXPERIMENT_ID="exp-1",
            CODECARBON_API_ENDPOINT=server.url + "/api",
            CODECARBON_EMISSIONS_ENDPOINT=f"http://poster:{URL_PASSWORD}@{host}/emissions",
            CODECARBON_SAVE_TO_PROMETHEUS="true", CODECARBON_PROMETHEUS_URL=host,
            CODECARBON_LOG_LEVEL="debug",
            CODECARBON_TELEMETRY="extensive", CODECARBON_TELEMETRY_ENDPOINT=server.url + "/telemetry",
        )
        for index in range(3):
            notebook.run(f"%%carbon --name step{index}\nimport time\ntime.sleep(0.05)\n{index}", expect=index)
        notebook.run("%carbon start span --quiet")
        notebook.run("%carbon stop span")
        from carbon_magic import EmissionsTracker
        from carbon_magic.outputs.logger import LoggerOutput

        tracker = EmissionsTracker(save_to_logger=True, logging_logger=LoggerOutput(logging.getLogger("user.log")),
                                   api_key=API_KEY, save_to_api=True, experiment_id="exp-1",
                                   api_endpoint=server.url + "/api", electricitymaps_api_token=EM_TOKEN,
                                   log_level="debug", measure_power_secs=1)
        tracker.start()
        tracker.stop()
        shown = [notebook.magic(line) for line in ("status", "config", "report", "telemetry",
                                                   "telemetry preview extensive", "telemetry preview minimal")]
        assert server.wait_for(lambda requests: any(r.path == "/telemetry" for r in requests), 10)
        assert server.wait_for(lambda requests: any(r.path == "/emissions" for r in requests), 10)
        notebook.drain(timeout_s=15)
        notebook.rows_are_whole()
        from carbon_magic.core.problems import problems

        written = {
            "logs": caplog.text,
            "stdout and stderr": "".join(capfd.readouterr()),
            "magic outputs": "\n".join(shown),
            "files under the working folder and HOME": every_file_text(isolated, isolated.parent / "home"),
            "reprs": "\n".join(map(repr, [notebook.session, notebook.records, tracker, tracker.final_emissions_data])),
            "errors counted": "\n".join(f"{p.where} {p.message}" for p in problems.all()),
            "request bodies (telemetry, API, endpoint, push gateway)": "\n".join(
                request.body.decode("utf-8", "replace") for request in server.requests),
            "request headers other than credentials": "\n".join(
                f"{name}: {value}" for request in server.requests for name, value in request.headers.items()
                if name not in CREDENTIAL_HEADERS),
        }
        assert any(p.where.startswith("output http") for p in problems.all())  # the echo was read and shown
        assert "Electricity Maps zone FR" in written["magic outputs"]
        leaks = [f"{secret_name} in {where}" for where, text in written.items()
                 for secret_name, secret in SECRETS.items() if secret in text]
        assert leaks == []
        sent = {(r.path, name, value) for r in server.requests for name, value in r.headers.items()
                if name in CREDENTIAL_HEADERS}
        assert any(value == API_KEY for _, name, value in sent)
        assert any(value == EM_TOKEN and path == "/em" for path, name, value in sent)
        assert all(value != API_KEY or path.startswith("/api") for path, _, value in sent)
        assert all(value != EM_TOKEN or path == "/em" for path, _, value in sent)
    finally:
        server.close()


# --- every written form of a URL password (issue 15) ----------------------------------------------

QUOTED_PASSWORD = "pa'ss@w0rd-5ecret"  # a quote and a raw '@'
QUERY_TOKEN = "query-tok-5ecret-0005"


def echo_everything(request) -> Reply:
    """A hostile server: a 500 repeating its basic-auth header and the query it was sent."""
    query = "&".join(f"{name}={value}" for name, values in request.query.items() for value in values)
    return status(500, f"denied: authorization={request.headers.get('authorization', '')} query=?{query}")


@pytest.mark.parametrize("written", ["raw", "percent-encoded"])
def test_url_passwords_never_shown_in_any_written_form(open_notebook, figures, caplog, written):
    """An endpoint URL whose password has a quote and an '@', written raw or percent-encoded,
    with a `?token=` query: `%carbon config`, `%carbon status` (the delivery error of a server
    that echoes the basic-auth header and the query back), the warning log and the problems
    counted show none of the password (whole or any tail), its encoded or base64 basic-auth
    forms, or the token."""
    figures.fault(f"emissions_endpoint password with ' and @ ({written}) and ?token=; a server echoing them")
    caplog.set_level(logging.DEBUG)
    server = LocalServer({("POST", "/emissions"): echo_everything})
    host = server.url.removeprefix("http://")
    password = QUOTED_PASSWORD if written == "raw" else quote(QUOTED_PASSWORD, safe="")
    endpoint = f"http://poster:{password}@{host}/emissions?token={QUERY_TOKEN}"
    forms = {
        "password": QUOTED_PASSWORD, "its tail after '@'": QUOTED_PASSWORD.split("@", 1)[1],
        "percent-encoded": quote(QUOTED_PASSWORD, safe=""), "query token": QUERY_TOKEN,
        "basic auth (base64)": base64.b64encode(f"poster:{QUOTED_PASSWORD}".encode()).decode(),
    }
    try:
        notebook = open_notebook(CODECARBON_EMISSIONS_ENDPOINT=endpoint)
        notebook.run("%%carbon --quiet\n1", expect=1)
        assert server.wait_for(lambda requests: any(r.path == "/emissions" for r in requests), 10)
        notebook.drain(timeout_s=15)
        from carbon_magic.core.problems import problems

        assert any(p.where.startswith("output http") for p in problems.all())  # the echo was read
        shown = {
            "%carbon config": notebook.magic("config"),
            "%carbon config emissions_endpoint": notebook.magic("config emissions_endpoint"),
            "%carbon status": notebook.status(),
            "log": caplog.text,
            "problems": "\n".join(f"{p.where} {p.message}" for p in problems.all()),
        }
        assert "poster:***@" in shown["%carbon config"]
        sent = [r for r in server.requests if r.path == "/emissions"][0]
        assert sent.headers["authorization"] == "Basic " + forms["basic auth (base64)"]  # it did go to its server
        leaks = [f"{form} in {where}" for where, text in shown.items() for form, secret in forms.items()
                 if secret in text]
        assert leaks == []
    finally:
        server.close()


# --- secrets given as magic options (issue 17 point 3) ------------------------------------------

OPTION_SECRETS = {
    "--api-key": "cc-key-in-a-cell-5ecret-0006",
    "--electricitymaps-api-token": "em-token-in-a-cell-5ecret-0007",
    "--co2-signal-api-token": "co2-token-in-a-cell-5ecret-0008",
}
# Cells giving a secret as a magic option, each form of line the magics read.
SECRET_CELLS = {
    "--api-key": "%%carbon --quiet --api-key {secret}\nran = 1",
    "--electricitymaps-api-token": "%carbon on --electricitymaps-api-token={secret}",
    "--co2-signal-api-token": "v = %carbon --quiet --co2-signal-api-token '{secret}' 1 + 1",
}
# Run in the kernel afterwards: which of its variables and history lists still hold a secret
# (the secrets are given reversed, so that this cell's own text holds none of them).
HISTORY_PROBE = """def _probe(reversed_secrets):
    import json
    hm = get_ipython().history_manager
    hm.writeout_cache()
    secrets = [s[::-1] for s in reversed_secrets]
    places = list(globals().items()) + [("raw", hm.input_hist_raw), ("cache", hm.db_input_cache)]
    held = [name for name, value in places if any(s in repr(value) for s in secrets)]
    print("HISTORY", json.dumps({{"held": held, "file": str(hm.hist_file)}}))
_probe({reversed!r})"""


def test_secret_magic_options_are_refused_and_kept_nowhere(kernel_notebook, isolated, figures):
    """A secret given as a magic option (`%%carbon --api-key ...`, `%carbon on
    --electricitymaps-api-token=...`, `v = %carbon --co2-signal-api-token '...' f()`) is refused in
    a real kernel: the cell does not run, the message names the option and the three places
    to set it instead (`%config CarbonMagic.NAME`, `CODECARBON_NAME`, `.codecarbon.config`), and
    the value is in no output, no error, no `In`/`_i` variable and not in the history file."""
    from tests.ipython_helpers import execute_like_jupyterlab, texts

    figures.fault("3 secrets given as magic options (cell, %carbon on, statement); history saved to disk")
    kernel = kernel_notebook()
    kernel.run("%load_ext carbon_magic")
    shown = []
    for option, secret in OPTION_SECRETS.items():
        _, messages = execute_like_jupyterlab(kernel.client, SECRET_CELLS[option].format(secret=secret))
        errors = [m["content"] for m in messages if m["msg_type"] == "error"]
        message = texts(messages)  # IPython writes a UsageError to stderr, without a traceback
        name = option[2:].replace("-", "_")
        for place in ("UsageError: ", f"{option} is refused", f"%config CarbonMagic.{name} = ",
                      f"CODECARBON_{name.upper()}", "[codecarbon] section of ./.codecarbon.config"):
            assert place in message
        assert "tracking every cell" not in message  # %carbon on did not turn tracking on
        figures.cell(True, f"{option}: refused")
        shown.append(message + "\n".join(e["evalue"] + "\n".join(e["traceback"]) for e in errors))
    probe_code = HISTORY_PROBE.format(reversed=[secret[::-1] for secret in OPTION_SECRETS.values()])
    probe = kernel.run(probe_code)
    history = json.loads(probe.split("HISTORY ", 1)[1].splitlines()[0])
    assert kernel.run("print(sorted(k for k in ('ran', 'v') if k in globals()))").strip() == "[]"
    kernel.shutdown()
    stored = b"".join(Path(history["file"] + suffix).read_bytes() for suffix in ("", "-journal", "-wal")
                      if Path(history["file"] + suffix).exists())
    assert Path(history["file"]).is_file() and b"%carbon on --electricitymaps-api-token=***" in stored
    assert history["held"] == []
    leaks = [f"{option} in {where}" for option, secret in OPTION_SECRETS.items()
             for where, text in (("outputs and errors", "\n".join(shown)), ("probe", probe_code + probe))
             if secret in text]
    leaks += [f"{option} in the history file" for option, secret in OPTION_SECRETS.items() if secret.encode() in stored]
    assert leaks == []
