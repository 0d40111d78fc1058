"""The measurement core: parameters, sampler and meters, trackers, records.

Works in a plain Python process: no IPython, ipywidgets, plotly or pandas. Heavy imports
(psutil's process scans, pynvml) happen where first needed.
"""
