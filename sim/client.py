"""What a client sees of a station (IQM's ``JobData`` and ``QueueState``), under the name the README uses;
it lives in ``sim.results.client``."""

from sim.results.client import job_data, queue_states

__all__ = ["job_data", "queue_states"]
