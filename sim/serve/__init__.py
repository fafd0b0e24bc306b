"""The simulated station served live over IQM's HTTP API (``stationsim serve``).

A client's code (``iqm-client`` 36, its Qiskit backend) talks to a station that runs in accelerated real time:
its jobs queue behind the scenario's own background load, pass every status, can be cancelled, fail
validation with the device's message, and come back with measurement results from an ideal simulation of the
native gates read out through the device's readout error.

- ``architecture``: the device as the API describes it (qubit names, couplers, gates and loci, ids);
- ``circuits``: a circuit job request read and checked (its schema, then its gates against the architecture);
- ``statevector``: the ideal state-vector simulation of ``prx``, ``cz`` and ``measure`` with readout error;
- ``live``: the station with ids reserved for client jobs, driven by a clock in accelerated real time;
- ``jobs``: what ``GET jobs/{id}`` answers, from the live station or from the database;
- ``persistence``: every job in the results database as it happens, and the clean-up after a restart;
- ``app``: the HTTP routes, authentication, body limits and the error shape; ``serve`` runs it all.

It needs the ``serve`` extra (Starlette and uvicorn); the rest of stationsim does not.
"""
