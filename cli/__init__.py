"""The ``hotspots`` command line: a thin layer over the pipelines' Python functions."""
