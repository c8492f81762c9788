"""pytest's root conftest: the suite's session-wide hooks (tests/plugin.py) reach every item,
the labs nbval collects in labs/ as well as the tests in tests/."""

pytest_plugins = ["tests.plugin"]

#: The student versions stop at their first exercise by design: nbval must not collect them
#: (tests/test_grading.py runs them as a learner does).
collect_ignore = ["labs/student"]
