"""The model: IQM Station Control's job executor as a SimPy process network.

The status lifecycle, the job records (the persistent job store), the sampled workload, pools of servers and
their holdings, the station and its job process, the instruments (the SimPy adapter of ``hardware_mock``),
the calibration service, the faults drawn for a run, and restart recovery.
"""
