"""The test suite never writes into the user's files: observed, not assumed.

``tests/conftest.py`` noted the user's own folders (the course cache, matplotlib's, torch's,
IPython's and Jupyter's) before anything ran; after the labs ran in this session (nbval, which
runs before these tests in ``make test``) they must be as they were.
"""

import pytest

from tests.plugin import USER_FOLDERS, _snapshot


def test_running_the_labs_left_the_users_folders_as_they_were(nbval_runs, user_folders_at_start):
    if not nbval_runs["runs"]:
        pytest.skip("no lab ran in this session: run it with labs/ (pytest labs tests --nbval-lax)")
    changed = [folder for folder in USER_FOLDERS if _snapshot(folder) != user_folders_at_start[folder]]
    assert not changed, f"the labs wrote into the user's folders: {changed}"


def test_the_course_cache_is_the_sessions_private_folder(nbval_runs, session_cache):
    """The labs filled the session's cache (so they wrote somewhere, and it was there)."""
    if not nbval_runs["runs"]:
        pytest.skip("no lab ran in this session: run it with labs/ (pytest labs tests --nbval-lax)")
    assert any(session_cache.iterdir()), "the labs cached nothing in the session's private cache"
