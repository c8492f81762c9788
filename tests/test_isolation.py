"""The test suite never writes into the user's files (conftest.py sets this up)."""

import os
import tempfile
from pathlib import Path

from labsupport.cache import cache_dir


def test_the_course_cache_is_a_private_temporary_folder(session_cache):
    assert Path(os.environ["LABSUPPORT_CACHE"]) == session_cache
    assert cache_dir() == session_cache
    assert session_cache.is_relative_to(tempfile.gettempdir())
    assert not session_cache.is_relative_to(Path.home() / ".cache")


def test_libraries_and_kernels_write_into_it_too(session_cache):
    for name in ("XDG_CACHE_HOME", "MPLCONFIGDIR", "IPYTHONDIR", "JUPYTER_RUNTIME_DIR"):
        assert Path(os.environ[name]).is_relative_to(session_cache.parent), name
