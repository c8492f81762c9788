"""MyST roles as plain text, for the chapter slides (``tools/slides.py``).

A slide shows what a role says, not a link: ``{cite:p}`key``` becomes "(Kaplan et al., 2020)"
from ``references.bib``, ``{cite:t}`key``` "Kaplan et al. (2020)", ``{doc}`text <target>```
and ``{ref}`text <target>``` their text (a ``{doc}`` without text, the title of the page it
names), ``{math}`x``` inline math. A citation key missing from the bibliography or a page
that does not exist is an error that names the chapter.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from pathlib import Path

import latexcodec  # noqa: F401  (registers the "ulatex" codec used for names like Tram{\`e}r)
from pybtex.database import Person, parse_file

ROLE = re.compile(r"\{(?P<role>[a-z]+(?::[a-z]+)?)\}`(?P<body>[^`]+)`")
EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", flags=re.S)
# Markdown's own punctuation, escaped in a role's replacement so that it stays text.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>$])")


@dataclass(frozen=True)
class Reference:
    """A bibliography entry as an author-year citation shows it: ``Kaplan et al.`` and ``2020``."""

    authors: str
    year: str


def _surname(person: Person) -> str:
    """``de Jong``, ``Tramèr``, ``Gemma Team``: a person's last name with LaTeX decoded."""
    name = " ".join(person.prelast_names + person.last_names)
    return codecs.decode(name, "ulatex").replace("{", "").replace("}", "")


def load_references(bib: Path) -> dict[str, Reference]:
    """Every entry of ``bib`` (the course's ``references.bib``) as author-year text."""
    references = {}
    for key, entry in parse_file(str(bib)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_surname(p) for p in people]
        if not names:
            raise ValueError(f"{bib}: entry {key!r} has no author")
        if len(names) == 1:
            authors = names[0]
        elif len(names) == 2 and names[1] != "others":
            authors = f"{names[0]} and {names[1]}"
        else:
            authors = f"{names[0]} et al."
        references[key] = Reference(authors, entry.fields.get("year", "n.d."))
    return references


def page_title(page: Path) -> str | None:
    """The first ``# `` heading of a MyST page or of a notebook's first Markdown cell."""
    for suffix in (".md", ".ipynb"):
        path = page.with_suffix(suffix)
        if not path.is_file():
            continue
        if suffix == ".md":
            lines = path.read_text(encoding="utf-8").splitlines()
        else:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            markdown = [c for c in cells if c["cell_type"] == "markdown"]
            lines = "".join(markdown[0]["source"]).splitlines() if markdown else []
        return next((line[2:].strip() for line in lines if line.startswith("# ")), path.stem)
    return None


class RoleResolver:
    """Replaces the roles of one chapter's text by what a reader of a slide should see."""

    def __init__(self, source: Path, references: dict[str, Reference]) -> None:
        self.source = source
        self.references = references

    def __call__(self, text: str) -> str:
        """``text`` with every role replaced (Markdown's punctuation in the result escaped)."""
        return ROLE.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        role, body = match.group("role"), match.group("body").strip()
        if role == "math":
            return f"${body}$"
        explicit = EXPLICIT.match(body)
        text, target = (explicit.group("text"), explicit.group("target")) if explicit else ("", body)
        if role.startswith("cite"):
            plain = self._cite(role, target)
        elif text:
            plain = text
        elif role == "doc":
            plain = self._doc(target)
        else:  # {ref}, {numref}, {eq}, {term} ... without a text: the label itself
            plain = target
        return MARKDOWN_SPECIAL.sub(r"\\\1", plain)

    def _cite(self, role: str, keys: str) -> str:
        cited = []
        for key in (k.strip() for k in keys.split(",")):
            if key not in self.references:
                raise ValueError(f"{self.source}: {{{role}}}`{key}` is not in references.bib")
            cited.append(self.references[key])
        if role.endswith(":t"):
            return "; ".join(f"{r.authors} ({r.year})" for r in cited)
        return "(" + "; ".join(f"{r.authors}, {r.year}" for r in cited) + ")"

    def _doc(self, target: str) -> str:
        base = self.source.parent.parent if target.startswith("/") else self.source.parent
        title = page_title(base / target.lstrip("/"))
        if title is None:
            raise ValueError(f"{self.source}: {{doc}}`{target}` names no page")
        return ROLE.sub(lambda m: m.group("body"), title)
