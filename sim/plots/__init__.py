"""Figures: of one run (stage timing, queues, instruments) and of sweeps (metric curves with bands)."""
