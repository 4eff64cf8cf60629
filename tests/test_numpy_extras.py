"""cli/numpy_extras.py: numpy's optional submodules left unrun by scipy's import, in a new process
(the test process has loaded them long ago)."""

from __future__ import annotations

from tests.fresh_process import modules_loaded

_RUN = ["numpy.f2py.crackfortran", "numpy.testing._private.utils", "unittest"]


def test_scipy_loads_without_running_them() -> None:
    code = (
        "from cli.numpy_extras import defer_numpy_extras\n"
        "defer_numpy_extras()\n"
        "import scipy.sparse, scipy.special\n"
        "print(float(scipy.special.ndtr(0.0)), scipy.sparse.eye(2).nnz)\n"
    )
    loaded, printed = modules_loaded(code, _RUN)
    assert printed == "0.5 2"
    assert loaded == []


def test_nothing_is_deferred_once_another_thread_runs() -> None:
    """Python 3.11's lazy loader is not thread-safe: with a thread running, numpy is left as is
    (and scipy's import runs the submodules, as it always did)."""
    code = (
        "import threading\n"
        "stop = threading.Event()\n"
        "thread = threading.Thread(target=stop.wait)\n"
        "thread.start()\n"
        "from cli.numpy_extras import defer_numpy_extras\n"
        "defer_numpy_extras()\n"
        "import sys\n"
        "print(sorted(m for m in sys.modules if m.startswith('numpy.f2py')))\n"
        "import scipy.sparse\n"
        "stop.set()\n"
    )
    loaded, printed = modules_loaded(code, _RUN)
    assert printed == "[]"  # not registered
    assert loaded == sorted(_RUN)  # so scipy ran them
