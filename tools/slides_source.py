"""Read a chapter's MyST source into what its slides show (``tools/slides.py``).

The slides are made from the chapter itself, so they cannot drift from it: its title and
opening, its learning objectives, every ``{figure}`` it shows, its display equations (``$$``,
``{math}`` and amsmath blocks, outside exercises, solutions and code) with the heading of the
section each comes from, and its takeaways. Fragments are kept as HTML, roles already turned
into plain text (``tools/slides_roles.py``) and math left as TeX between MathJax's delimiters.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.colon_fence import colon_fence_plugin
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.myst_blocks import myst_block_plugin

from tools.slides_roles import Reference, RoleResolver

# Directives whose body is the chapter's prose (searched for figures and equations); exercises,
# solutions and code cells are not.
PROSE_DIRECTIVES = {"admonition", "note", "tip", "important", "hint", "seealso", "warning", "attention"}
OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
DIRECTIVE = re.compile(r"^\{(?P<name>[\w:-]+)\}\s*(?P<argument>.*)$")
# A sentence ends at . ! or ? (a closing quote or bracket may follow) before a capital letter.
SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[A-Z“\"(])")
INLINE_MATH = re.compile(r"\$[^$]+\$")


def _math(content: str, options: dict) -> str:
    """TeX between MathJax's delimiters, escaped for HTML (markdown-it wraps it in ``.math``)."""
    if options.get("display_mode"):
        return f"\\[{html.escape(content)}\\]"
    return f"\\({html.escape(content)}\\)"


def markdown() -> MarkdownIt:
    """The chapters' Markdown: CommonMark with the MyST extensions ``_config.yml`` enables."""
    md = MarkdownIt("commonmark", {"html": False})
    md.use(front_matter_plugin).use(myst_block_plugin).use(colon_fence_plugin).use(deflist_plugin)
    md.use(amsmath_plugin)  # its blocks stay TeX environments, which MathJax typesets as they are
    return md.use(dollarmath_plugin, allow_labels=True, renderer=_math, label_renderer=lambda _: "")


@dataclass(frozen=True)
class Figure:
    """A figure the chapter shows: its file (relative to the chapter), alt text and caption, the
    section it is in and its place among the chapter's figures and equations."""

    path: str
    alt: str
    caption: str
    section: str
    order: int


@dataclass(frozen=True)
class Equation:
    """A display equation: its TeX, the (HTML) heading of the section it comes from and its place
    among the chapter's figures and equations."""

    tex: str
    section: str
    order: int


@dataclass(frozen=True)
class Chapter:
    """What a chapter's slides show, each text fragment as HTML."""

    source: Path
    title: str
    opening: str
    objectives: list[str]
    figures: list[Figure]
    equations: list[Equation]
    takeaways: list[str]

    @property
    def stem(self) -> str:
        return self.source.stem


class _Reader:
    """One pass over a chapter's tokens, directives' bodies included, collecting what slides show."""

    def __init__(self, source: Path, md: MarkdownIt) -> None:
        self.source, self.md = source, md
        self.title = self.opening = ""
        self.section = ""
        self.objectives: list[str] | None = None
        self.takeaways: list[str] | None = None
        self.figures: list[Figure] = []
        self.equations: list[Equation] = []

    def inline(self, token: Token) -> str:
        return self.md.renderer.render([token], self.md.options, {}).strip()

    def items(self, tokens: list[Token], start: int = 0) -> list[str]:
        """The items of the first list from ``start`` on, before the next heading, as HTML."""
        for i in range(start, len(tokens)):
            if tokens[i].type == "heading_open":
                break
            if tokens[i].type in ("bullet_list_open", "ordered_list_open"):
                level, found, begin = tokens[i].level, [], 0
                for j in range(i + 1, len(tokens)):
                    if tokens[j].type == "list_item_open" and tokens[j].level == level + 1:
                        begin = j + 1
                    elif tokens[j].type == "list_item_close" and tokens[j].level == level + 1:
                        found.append(self.md.renderer.render(tokens[begin:j], self.md.options, {}).strip())
                    elif tokens[j].nesting == -1 and tokens[j].level == level:
                        return found
        return []

    def equation(self, tex: str) -> None:
        order = len(self.figures) + len(self.equations)
        self.equations.append(Equation(tex.strip(), self.section, order))

    def read(self, tokens: list[Token]) -> None:
        for i, token in enumerate(tokens):
            if token.type == "heading_open":
                heading = self.inline(tokens[i + 1])
                if token.tag == "h1":
                    self.title = self.section = heading
                else:
                    self.section = heading
                    name = tokens[i + 1].content.strip().lower()
                    if name == "learning objectives":
                        self.objectives = self.items(tokens, i + 3)
                    elif name in ("takeaways", "key takeaways"):
                        self.takeaways = self.items(tokens, i + 3)
            elif token.type == "paragraph_open" and self.section == self.title != "" and not self.opening:
                self.opening = self._opening(tokens[i + 1])
            elif token.type in ("math_block", "math_block_label", "amsmath"):
                self.equation(token.content)
            elif token.type in ("fence", "colon_fence"):
                self._directive(token)

    def _opening(self, inline: Token) -> str:
        """The first sentence or two of the opening paragraph; a paragraph all in italics (the
        chapter's evidence date) is skipped."""
        kids = inline.children or []
        if kids and kids[0].type == "em_open" and kids[-1].type == "em_close":
            return ""
        text = " ".join(inline.content.split())
        protected = INLINE_MATH.sub(lambda m: m.group(0).replace(".", "\0"), text)
        sentences = [s.replace("\0", ".") for s in SENTENCE_END.split(protected)]
        chosen = sentences[0] if len(sentences[0].split()) >= 20 else " ".join(sentences[:2])
        return self.md.renderInline(chosen).strip()

    def _directive(self, token: Token) -> None:
        match = DIRECTIVE.match(token.info.strip())
        if not match:
            return
        name, argument = match.group("name"), match.group("argument").strip()
        options, body = _split_options(token.content)
        if name == "figure":
            path = (self.source.parent / argument).resolve()
            if not path.is_relative_to(self.source.parent.resolve()) or not path.is_file():
                raise ValueError(
                    f"{self.source}: the figure {argument} does not exist in {self.source.parent}"
                )
            if not options.get("alt", "").strip():
                raise ValueError(f"{self.source}: the figure {argument} has no :alt: text")
            caption = self.md.render(body).strip()
            order = len(self.figures) + len(self.equations)
            self.figures.append(Figure(argument, options["alt"].strip(), caption, self.section, order))
        elif name == "math":
            for tex in re.split(r"\n\s*\n", body.strip()):
                self.equation(tex)
        elif name in PROSE_DIRECTIVES:
            title = argument.lower()
            tokens = self.md.parse(body)
            if name == "admonition" and title == "learning objectives":
                self.objectives = self.items(tokens)
            elif name == "admonition" and title in ("takeaways", "key takeaways"):
                self.takeaways = self.items(tokens)
            else:
                self.read(tokens)


def _split_options(content: str) -> tuple[dict[str, str], str]:
    """A directive's ``:key: value`` lines and the body after them."""
    lines = content.splitlines()
    options = {}
    while lines and (option := OPTION.match(lines[0].strip())):
        options[option.group("key")] = option.group("value")
        lines.pop(0)
    return options, "\n".join(lines)


def read_chapter(source: Path, references: dict[str, Reference]) -> Chapter:
    """Read ``source`` (a chapter's ``.md``); a chapter without a title, learning objectives or
    takeaways is an error that names the file."""
    text = RoleResolver(source, references)(source.read_text(encoding="utf-8"))
    md = markdown()
    reader = _Reader(source, md)
    reader.read(md.parse(text))
    if not reader.title:
        raise ValueError(f"{source}: the chapter has no '# ' title")
    if not reader.objectives:
        raise ValueError(
            f"{source}: no learning objectives: the slides need a '## Learning objectives' section "
            "(or a 'Learning objectives' admonition) holding a list"
        )
    if not reader.takeaways:
        raise ValueError(
            f"{source}: no takeaways: the slides need a 'Key takeaways' admonition or a "
            "'## Takeaways' section holding a list"
        )
    return Chapter(
        source,
        reader.title,
        reader.opening,
        reader.objectives,
        reader.figures,
        reader.equations,
        reader.takeaways,
    )
