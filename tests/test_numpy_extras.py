"""cli/numpy_extras.py: numpy's optional submodules, and scipy's copy of numpy's namespace, left
unrun by scipy's import, in a new process (the test process has loaded them long ago)."""

from __future__ import annotations

from tests.fresh_process import modules_loaded

_RUN = ["numpy.f2py.crackfortran", "numpy.testing._private.utils", "unittest"]
# Loaded only when scipy's array API copy of numpy's namespace runs (numpy.fft: only it imports
# numpy.fft on a study's path).
_COPY_RUN = ["numpy.fft", "scipy._lib.array_api_compat.numpy._aliases"]


def test_scipy_loads_without_running_them() -> None:
    code = (
        "from cli.numpy_extras import defer_numpy_extras\n"
        "defer_numpy_extras()\n"
        "import scipy.sparse, scipy.special\n"
        "print(float(scipy.special.ndtr(0.0)), scipy.sparse.eye(2).nnz)\n"
    )
    loaded, printed = modules_loaded(code, [*_RUN, *_COPY_RUN])
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
        "print(sorted(m for m in sys.modules if m.startswith(('numpy.f2py', 'scipy'))))\n"
        "import scipy.sparse\n"
        "stop.set()\n"
    )
    loaded, printed = modules_loaded(code, [*_RUN, *_COPY_RUN])
    assert printed == "[]"  # not registered
    assert loaded == sorted([*_RUN, *_COPY_RUN])  # so scipy ran them


def test_scipy_s_copy_of_numpy_runs_only_when_a_function_asks_for_it() -> None:
    """scipy.sparse and scipy.special load, and their products and ufuncs run, without the
    copy; a scipy function that asks for an array namespace (logsumexp) then runs it, whole,
    and gets the same module object scipy's layer holds."""
    code = (
        "from cli.numpy_extras import SCIPY_NUMPY_COPY, defer_numpy_extras\n"
        "defer_numpy_extras()\n"
        "import sys, math\n"
        "import numpy as np, scipy.sparse, scipy.special\n"
        "from scipy._lib import _array_api\n"
        "matrix = scipy.sparse.csr_array(np.eye(3))\n"
        "assert (matrix @ np.arange(3.0)).tolist() == [0.0, 1.0, 2.0]\n"
        "assert float(scipy.special.ndtr(0.0)) == 0.5\n"
        "assert math.isclose(float(scipy.special.gammaln(5.0)), math.log(24))\n"
        "before = sorted(m for m in " + repr(_COPY_RUN) + " if m in sys.modules)\n"
        "assert math.isclose(float(scipy.special.logsumexp([0.0, 0.0])), math.log(2))\n"
        "copy = sys.modules[SCIPY_NUMPY_COPY]\n"
        "assert _array_api.array_namespace(np.arange(2)) is copy is _array_api.np_compat\n"
        "assert copy.fft.fft(np.ones(2)).tolist() == [2, 0] and copy.asarray([1]).tolist() == [1]\n"
        "print(before)\n"
    )
    loaded, printed = modules_loaded(code, _COPY_RUN)
    assert printed == "[]"  # not run by the imports, the products nor the ufuncs
    assert loaded == sorted(_COPY_RUN)  # run by logsumexp
