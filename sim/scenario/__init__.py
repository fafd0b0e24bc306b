"""The scenario layer: a TOML file read into frozen, validated configuration.

Units and distributions, random streams, the sections of a scenario (stages, workload, hardware, calibration,
faults, scheduler), trace files, and ``Scenario`` itself. Nothing here runs a model: the runtime objects that
use this configuration live in ``sim.model``.
"""
