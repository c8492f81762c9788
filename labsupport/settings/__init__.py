"""Each lab's settings per run profile, out of the learner's way.

A lab's first cell after set-up is ``cfg = ComplexitySettings.for_profile(); cfg``: the
settings of the current profile (``LABSUPPORT_PROFILE``: ``smoke``, ``cpu`` or ``gpu``) shown as
a table of name, value and meaning. A learner changes one with ``dataclasses.replace(cfg, ...)``.
The three profiles are written here, one module per lab, the ``cpu`` profile in full and the
others as changes to it.

Each lab imports its own, e.g. ``from labsupport.settings.complexity import ComplexitySettings``.
"""

from labsupport.settings.base import LabSettings, setting

__all__ = ["LabSettings", "setting"]
