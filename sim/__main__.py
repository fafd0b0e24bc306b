"""``python -m sim``: the same command line as ``stationsim``."""

from sim.cli.main import entry_point

entry_point()
