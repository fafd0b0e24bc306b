"""Experiments over many runs: replications with confidence intervals, sweeps, the capacity search and the
executors (local processes or a Dask cluster) that run them."""
