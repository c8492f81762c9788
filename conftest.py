"""pytest's root conftest: the suite's session-wide hooks (tests/plugin.py) reach every item,
the labs nbval collects in labs/ as well as the tests in tests/."""

pytest_plugins = ["tests.plugin"]
