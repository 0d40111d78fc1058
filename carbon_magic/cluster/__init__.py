"""Cluster hosts measured into the kernel's windows (Dask workers, Ray nodes).

Layer: like ``outputs``, it imports ``core`` only; dask and ray are imported only by the
backend of an engine the user has already imported, and on the workers. ``host_agent``: one
sampler per worker host (leader election between its worker processes); ``reading``: what a
host answers; ``backend``: an engine's kernel side (the protocol and the table of backends);
``dask_backend`` / ``dask_worker``: Dask's; ``ray_backend``: Ray's; ``monitor``: the runtime's ``RemoteMeter``;
``window``: a window's cluster part; ``footprint``: that part added to a record.
"""
