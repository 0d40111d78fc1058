"""The views drawn from tracked cells: the live panel, ``%carbon panel`` and ``%carbon plot``.

Modules, one job each: ``presentation`` (colours of both themes, units and number formats:
every view's look, the summaries' and the sidebar protocol's units included),
``live_panel`` (the per-cell live panel: scheduling, updates, freezing) with ``panel_view``
(its HTML), ``panel_widgets`` (its widgets and their pool), ``series`` (its bounded power
series), ``chart_layout`` (the panel chart's layout, drawn live as SVG and frozen by
``chart_png``, which also draws ``%carbon panel``'s bars), ``equivalents`` (car km, phone
charges ...), ``session_panel`` with ``session_view`` (``%carbon panel``), ``plot`` (``%carbon plot``) and
``themed`` (those two redrawn when the front end's theme changes). Importing this package imports nothing heavy.
"""
