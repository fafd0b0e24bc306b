"""``python -m sim``: the same command line as ``stationsim``."""

from sim.cli import entry_point

entry_point()
