"""The kernel's side of the JupyterLab sidebar (the labextension in ``labextension/``).

``protocol`` is the message schema (versioned; docs/sidebar-protocol.md), ``history`` what the
sidebar shows of the kernel (totals, running windows, last cells, power trail), ``channel``
the comm target and the pacing of messages. ``%load_ext carbon_magic`` opens the channel
when the shell runs inside a Jupyter kernel (``channel.attach``).
"""
