"""A cell that computes on a Dask cluster, in the sidebar of a real JupyterLab at 900 px.

The kernel starts a LocalCluster of worker processes under another host id (as
notebooks/cluster.ipynb does: workers on the kernel's own host are the kernel's to measure), and
a tracked cell keeps them busy: the running row names the host live, then the finished cell's row
says ``cluster: local-cluster … Wh`` under its figures, whole (wrapped, never clipped or cut) and
readable in the light and the dark theme. Screenshots: tests/artifacts/sidebar-cluster-{live,light,dark}-900.png.
"""

from __future__ import annotations

from .lab import LOW_CONTRAST_JS, run_cell, screenshot, set_theme
from .test_sidebar import SIDEBAR, load_in_new_notebook, sidebar_in_each_theme

WIDTH_PX = 900
HOST = "local-cluster"
START = (
    "import os\nfrom dask.distributed import Client, LocalCluster\n"
    f"os.environ['CARBON_MAGIC_HOST_ID'] = {HOST!r}  # the workers inherit it\n"
    "cluster = LocalCluster(n_workers=2, threads_per_worker=1, host='127.0.0.1', dashboard_address=None)\n"
    "del os.environ['CARBON_MAGIC_HOST_ID']\nclient = Client(cluster)"
)
# busy on the cluster until the test has seen the host live (at most 3 minutes)
BUSY = (
    "%%carbon --quiet --name dask-sum\nimport pathlib, time\nt0 = time.time()\n"
    "while not pathlib.Path('stop-cluster-cell').exists() and time.time() - t0 < 180:\n"
    "    client.submit(sum, range(10**6), pure=False).result()"
)

# Each cluster line: its text, whether any of its texts is wider than its box (clipped) or cut
# with an ellipsis, and whether it stays inside its row and the sidebar.
_READ = """(root) => Array.from(root.querySelectorAll('.cm-Cluster')).map((line) => {
    const box = line.getBoundingClientRect();
    const row = line.closest('.cm-Cell, .cm-Running').getBoundingClientRect();
    const side = root.getBoundingClientRect();
    const parts = [line, ...line.querySelectorAll('span')];
    return {text: line.textContent, hosts: Array.from(line.querySelectorAll('.cm-Cluster-host')).map((h) => h.dataset.host),
            clipped: parts.some((n) => n.scrollWidth > n.clientWidth + 0.5) || line.textContent.includes('…'),
            inside: box.left >= row.left - 0.5 && box.right <= row.right + 0.5 && box.right <= side.right + 0.5,
            width: box.width};
})"""


def test_a_cell_on_a_dask_cluster_names_its_host_live_and_in_its_row(lab, page):
    load_in_new_notebook(lab, page, "sidebar-cluster.ipynb", WIDTH_PX)
    run_cell(page, START, timeout_ms=180_000)
    stop = lab.root / "stop-cluster-cell"
    try:
        run_cell(page, BUSY, wait=False)
        page.wait_for_selector(f'{SIDEBAR} .cm-Running-cluster .cm-Cluster-host[data-host="{HOST}"]', state="attached",
                               timeout=180_000)
        screenshot(page, f"sidebar-cluster-live-{WIDTH_PX}")
        live = page.evaluate(_READ, page.query_selector(SIDEBAR))
        stop.touch()
        assert [line["hosts"] for line in live] == [[HOST]], live
        assert not live[0]["clipped"] and live[0]["inside"], live

        page.wait_for_selector(f'{SIDEBAR} .cm-Cell-cluster .cm-Cluster-host[data-host="{HOST}"]', state="attached",
                               timeout=120_000)
        for theme in sidebar_in_each_theme(page, f"sidebar-cluster-{{theme}}-{WIDTH_PX}"):
            lines = page.evaluate(_READ, page.query_selector(SIDEBAR))
            assert len(lines) == 1 and lines[0]["text"].startswith(f"cluster: {HOST} "), (theme, lines)
            assert lines[0]["text"].endswith("Wh"), (theme, lines)
            assert not lines[0]["clipped"] and lines[0]["inside"] and lines[0]["width"] > 100, (theme, lines)
            assert page.locator(f"{SIDEBAR} .cm-Cell-cluster").evaluate(LOW_CONTRAST_JS) == [], theme
    finally:
        stop.touch()
        set_theme(page, False)
        run_cell(page, "client.close()\ncluster.close()", timeout_ms=120_000)
