"""Calibrating the model to a station: job records in, a fitted scenario out, and its validation.

``records`` reads job timelines (IQM job-data JSON lines or CSV), ``families`` fits service-time
distributions by maximum likelihood, ``station`` fits a whole scenario, ``toml`` writes it as a commented
scenario file, ``validation`` runs the fitted scenario and compares it with the records, and ``figure`` draws
the comparison.
"""
