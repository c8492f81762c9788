"""A Sphinx extension: how the book shows solutions, to students and to instructors.

The public site is the student view. A lab's solution cells carry the tag ``hide-input``
(``tools/sync_labs.py``), so MyST-NB collapses each one behind "Show the solution"; the
chapters' ``{solution}`` blocks are dropdowns; and the hidden tests of the graded checks
(``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``) are cut from the pages, as they are
from the student notebooks.

``COURSE_SOLUTIONS=open`` (``make book SOLUTIONS=open``) builds the instructor view: every
solution is shown open and the hidden tests stay.
"""

from __future__ import annotations

import os
import re
from typing import Any

from docutils import nodes
from sphinx.errors import ConfigError

MODES = ("collapsed", "open")
HIDDEN_TESTS_RE = re.compile(
    r"^([ \t]*)### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS\n?", re.S | re.M
)
HIDDEN_NOTE = "# (hidden tests: the autograder runs more cases)\n"


def solutions_mode() -> str:
    """``collapsed`` (the default, the public site) or ``open``, from ``$COURSE_SOLUTIONS``."""
    mode = os.environ.get("COURSE_SOLUTIONS", "") or "collapsed"
    if mode not in MODES:
        raise ConfigError(f"COURSE_SOLUTIONS must be one of {MODES}, got {mode!r}")
    return mode


def cut_hidden_tests(source: str) -> str:
    """``source`` with each hidden-tests region replaced by a one-line note."""
    return HIDDEN_TESTS_RE.sub(lambda m: m.group(1) + HIDDEN_NOTE, source)


def _cut_hidden_tests(app: Any, doctree: nodes.document) -> None:
    for block in list(doctree.findall(nodes.literal_block)):
        text = block.astext()
        if "### BEGIN HIDDEN TESTS" in text:
            new = cut_hidden_tests(text).rstrip("\n")
            replacement = nodes.literal_block(new, new, **block.attributes)
            block.replace_self(replacement)


def _open_solution_blocks(app: Any, doctree: nodes.document) -> None:
    from sphinx_exercise.nodes import solution_node

    for node in doctree.findall(solution_node):
        node["classes"] = [c for c in node["classes"] if c != "dropdown"]


def _visit_open(self: Any, node: Any) -> None:
    """MyST-NB's collapsed cell, rendered open (the instructor view)."""
    from myst_nb.sphinx_ import visit_HideCellInput

    first = len(self.body)
    visit_HideCellInput(self, node)
    for i in range(first, len(self.body)):
        if self.body[i].startswith("<details "):
            self.body[i] = self.body[i].replace("<details ", "<details open ", 1)
            break


def setup(app: Any) -> dict[str, Any]:
    """Register the view chosen by ``$COURSE_SOLUTIONS``."""
    if solutions_mode() == "collapsed":
        app.connect("doctree-read", _cut_hidden_tests)
    else:
        from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput

        app.connect("doctree-read", _open_solution_blocks)
        app.add_node(HideCodeCellNode, override=True, html=(_visit_open, depart_HideCellInput))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
