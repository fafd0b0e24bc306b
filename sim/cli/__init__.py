"""The ``stationsim`` command line: argument parsing, the core commands and the experiment commands."""
