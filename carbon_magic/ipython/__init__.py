"""The IPython extension: ``%load_ext carbon_magic``, ``%%carbon``, ``%carbon``, ``CarbonMagic``.

Modules, one job each: ``extension`` (load/unload, hooks), ``shell_events`` (our callbacks
off IPython's events at unload), ``magics`` (the magics) with ``magic_help`` (their short and
full help), ``options`` (their command-line options; ``history_scrub`` takes a refused secret
out of the input history), ``traitlets_config`` (the configuration class),
``session`` (the kernel's cell history), ``tail`` (a cell's bookkeeping, right after the
kernel's reply), ``records`` (what it holds), ``pool`` (reused
configs and trackers), ``tracked_cells`` (a ``%%carbon`` cell run as the plain cell it wraps),
``execute`` (a ``%carbon`` statement or nested body run as IPython runs a cell), ``interrupts``
(Ctrl-C held back around a record), ``route`` (output from other threads), ``log_route`` (background warnings to the
kernel's log and the next summary, never into a cell), ``pending_clear`` (a summary that
never sets off the user's ``clear_output(wait=True)``), ``frontend``
(does the front end show widgets), ``display`` (the summaries), ``panel/`` (the views: the
per-cell live panel, ``%carbon panel``, ``%carbon plot`` and the one presentation module
for their colours, units and number formats), ``totals`` (a kernel's running totals, shared
by ``%carbon panel`` and the sidebar), ``report``, ``warmup`` (background start-up) and
``sidebar/`` (the JupyterLab sidebar's comm).
Importing this package imports nothing heavy.
"""
