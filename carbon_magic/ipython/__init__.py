"""The IPython extension: ``%load_ext carbon_magic``, ``%%carbon``, ``%carbon``, ``CarbonMagic``.

Modules, one job each: ``extension`` (load/unload, hooks), ``magics`` (the magics),
``options`` (their command-line options), ``traitlets_config`` (the configuration class),
``session`` (the kernel's cell history), ``pool`` (reused configs and trackers),
``execute`` (running cell code as IPython does), ``records``, ``display``, ``report``,
``plot`` and ``warmup`` (background start-up). Importing this package imports nothing heavy.
"""
