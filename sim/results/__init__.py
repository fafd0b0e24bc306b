"""The results layer: what a run leaves and everything read from it.

A run's records (``RunResult``), per-stage metrics, time series, the invariant checker, the client's view of a
live station, and the SQLite results database.
"""
