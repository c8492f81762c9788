"""The base of every lab's settings: a frozen dataclass that shows itself as a table."""

from __future__ import annotations

import dataclasses
import html
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from labsupport.env import by_profile, get_profile, validate_profile


def setting(kind: type, meaning: str) -> Any:
    """The annotation of one setting: its type and what it means, e.g.
    ``train_steps: setting(int, "Adam steps for each model")``."""
    if not isinstance(meaning, str) or not meaning:
        raise TypeError(f"a setting's meaning must be a non-empty string, got {meaning!r}")
    return Annotated[kind, meaning]


@dataclasses.dataclass(frozen=True)
class LabSettings:
    """A lab's settings. Subclasses are frozen dataclasses whose fields are annotated with
    :func:`setting` and which define :meth:`profiles`."""

    @classmethod
    def profiles(cls) -> dict[str, LabSettings]:
        """``{"smoke": ..., "cpu": ..., "gpu": ...}``: the cpu profile in full, the others as
        ``dataclasses.replace(cpu, ...)``."""
        raise NotImplementedError(f"{cls.__name__} must define profiles()")

    @classmethod
    def for_profile(cls, profile: str | None = None) -> LabSettings:
        """The settings of ``profile`` (default: the ``LABSUPPORT_PROFILE`` in force)."""
        name = get_profile() if profile is None else validate_profile(profile)
        table = cls.profiles()
        if set(table) != {"smoke", "cpu", "gpu"}:
            raise ValueError(f"{cls.__name__}.profiles() must give smoke, cpu and gpu, got {sorted(table)}")
        chosen = by_profile(name, **table)
        # remembered for the table's caption (replace() makes a copy without it)
        object.__setattr__(chosen, "_profile", name)
        return chosen

    def _profile_name(self) -> str:
        """The profile these settings came from; for a replace() copy, the closest one."""
        if getattr(self, "_profile", None):
            return self._profile
        names = [f.name for f in dataclasses.fields(self)]
        try:
            table = type(self).profiles()
        except NotImplementedError:
            return get_profile()
        current = get_profile()

        def distance(profile: str) -> tuple[int, bool]:
            base = table[profile]
            return sum(getattr(self, n) != getattr(base, n) for n in names), profile != current

        return min(table, key=distance)

    @classmethod
    def meanings(cls) -> dict[str, str]:
        """Field name -> what the setting means (from its :func:`setting` annotation)."""
        hints = get_type_hints(cls, include_extras=True)
        out = {}
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            out[f.name] = get_args(hint)[1] if get_origin(hint) is Annotated else ""
        return out

    def rows(self) -> list[tuple[str, Any, str]]:
        """(name, value, meaning) for every setting, in the order they are declared."""
        meanings = self.meanings()
        return [(f.name, getattr(self, f.name), meanings[f.name]) for f in dataclasses.fields(self)]

    def _differs(self) -> set[str]:
        """Names whose value is not the current profile's (changed with replace)."""
        try:
            base = type(self).profiles()[self._profile_name()]
        except NotImplementedError:
            return set()
        return {f.name for f in dataclasses.fields(self) if getattr(self, f.name) != getattr(base, f.name)}

    def __str__(self) -> str:
        changed = self._differs()
        width = max(len(name) for name, _, _ in self.rows())
        note = " (* changed with replace)" if changed else ""
        lines = [f"{type(self).__name__}: the {self._profile_name()!r} profile{note}"]
        for name, value, meaning in self.rows():
            mark = "*" if name in changed else " "
            lines.append(f"{mark}{name:<{width}}  {value!r:<12}  {meaning}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        changed = self._differs()
        body = "".join(
            f"<tr><td><code>{html.escape(name)}</code>{' *' if name in changed else ''}</td>"
            f"<td>{html.escape(repr(value))}</td><td style='text-align:left'>{html.escape(meaning)}</td></tr>"
            for name, value, meaning in self.rows()
        )
        caption = f"{type(self).__name__}: the <code>{self._profile_name()}</code> profile"
        if changed:
            caption += " (* changed with <code>replace</code>)"
        return (
            f"<table><caption>{caption}</caption><thead><tr><th>setting</th><th>value</th>"
            f"<th style='text-align:left'>what it sets</th></tr></thead><tbody>{body}</tbody></table>"
        )
