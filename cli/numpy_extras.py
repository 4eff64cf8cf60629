"""numpy's optional submodules, and scipy's copy of numpy's namespace, run only if something in
the process uses them.

scipy (1.15 and later) copies numpy's namespace for its array API layer
(``scipy._lib.array_api_compat.numpy``): it reads every name numpy lists, and reading the name
of one of numpy's lazy submodules imports it. So ``import scipy.sparse`` ran numpy.f2py (the
Fortran wrapper generator), numpy.testing (with unittest), numpy.polynomial and the rest, which
no study uses: 0.06-0.1 CPU-s of the ~0.6 s a new ``hotspots analyse`` takes. Registered here
with the standard library's LazyLoader, each is a module object whose code runs at its first
attribute access, as it would have run before.

numpy.ma stays out of the list: numpy's own ``np.unique`` reads ``np.ma`` on every call, so a
study loads it anyway, and from the cover's thread (see :func:`defer_numpy_extras`).

The copy itself (with numpy.fft, which only it imports, and its own wrappers) is needed only by
scipy functions that ask for an array namespace; the ones a study calls (scipy.sparse's
products, ``special.ndtr`` and the like, plain ufuncs when SciPy's array API support is off)
never ask, and making it took ~0.015 s of each new study. It is deferred the same way, by
:class:`_Deferred`, because scipy imports it as ``import scipy._lib.array_api_compat.numpy as
np_compat``, and the import system reads ``__spec__`` of a module it finds in ``sys.modules``:
that read runs a LazyLoader module, so a LazyLoader could not defer it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types

EXTRAS = (
    "numpy.f2py",
    "numpy.testing",
    "numpy.polynomial",
    "numpy.ctypeslib",
    "numpy.char",
    "numpy.rec",
    "numpy.strings",
)

# scipy's array API copy of numpy's namespace (see the module docstring).
SCIPY_NUMPY_COPY = "scipy._lib.array_api_compat.numpy"


class _Deferred(types.ModuleType):
    """A module whose code has not run yet: it holds only what the import system sets
    (``__name__``, ``__spec__``, ``__path__``, ...), and the first look-up of any other name
    runs the module's code into it, as its import would have, and then answers. The module
    object stays the same, so what already holds it sees the whole module."""

    def __getattr__(self, name: str) -> object:
        spec = self.__spec__
        self.__class__ = types.ModuleType  # from now on, an ordinary module
        spec.loader.exec_module(self)
        return getattr(self, name)


def defer_numpy_extras() -> None:
    """Register numpy's :data:`EXTRAS` that are not loaded yet as lazy modules, and scipy's
    :data:`SCIPY_NUMPY_COPY` as a :class:`_Deferred` one.

    Only for a command's own process, before it starts any thread: Python 3.11's LazyLoader is
    not thread-safe (fixed in 3.12), so two threads first using one of these modules at once
    could see it half-run (nor is :class:`_Deferred`). The threads a study starts (the cover,
    the study cache's write) use none of them; the web service, whose requests run on many
    threads, does not call this. In a process already running other threads (a command run
    in-process), nothing is done."""
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
    _defer(SCIPY_NUMPY_COPY)


def _defer(name: str) -> None:
    """Register ``name`` (a module not loaded yet) as a :class:`_Deferred` module of its
    package, which is imported now (scipy's is: the study imports scipy right after)."""
    if name in sys.modules:
        return
    package_name, _, attribute = name.rpartition(".")
    try:
        package = importlib.import_module(package_name)
        spec = importlib.util.find_spec(name)
    except ImportError:  # another scipy layout: nothing to defer
        return
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _Deferred
    sys.modules[name] = module
    # ``import package.name as x`` and ``from package import name`` take it from the package.
    setattr(package, attribute, module)
