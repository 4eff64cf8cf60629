"""numpy's optional submodules, run only if something in the process uses them.

scipy (1.15 and later) copies numpy's namespace for its array API layer
(``scipy._lib.array_api_compat.numpy``): it reads every name numpy lists, and reading the name
of one of numpy's lazy submodules imports it. So ``import scipy.sparse`` ran numpy.f2py (the
Fortran wrapper generator), numpy.testing (with unittest), numpy.polynomial and the rest, which
no study uses: 0.06-0.1 CPU-s of the ~0.6 s a new ``hotspots analyse`` takes. Registered here
with the standard library's LazyLoader, each is a module object whose code runs at its first
attribute access, as it would have run before.

numpy.ma stays out of the list: numpy's own ``np.unique`` reads ``np.ma`` on every call, so a
study loads it anyway, and from the cover's thread (see :func:`defer_numpy_extras`).
"""

from __future__ import annotations

import importlib.util
import sys
import threading

EXTRAS = (
    "numpy.f2py",
    "numpy.testing",
    "numpy.polynomial",
    "numpy.ctypeslib",
    "numpy.char",
    "numpy.rec",
    "numpy.strings",
)


def defer_numpy_extras() -> None:
    """Register numpy's :data:`EXTRAS` that are not loaded yet as lazy modules.

    Only for a command's own process, before it starts any thread: Python 3.11's LazyLoader is
    not thread-safe (fixed in 3.12), so two threads first using one of these modules at once
    could see it half-run. The threads a study starts (the cover, the study cache's write) use
    none of them; the web service, whose requests run on many threads, does not call this.
    In a process already running other threads (a command run in-process), nothing is done."""
    if threading.active_count() > 1:
        return
    import numpy

    for name in EXTRAS:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            continue
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        # numpy's module __getattr__ would otherwise import the submodule for its name, and
        # that import (``import numpy.f2py as f2py``) asks numpy for the name again: forever.
        setattr(numpy, name.rpartition(".")[2], module)
