"""The catalog's templates, compiled once at start-up in Jinja2's sandbox (a catalog is data, not code: a
site's text reaches no attribute starting with ``_`` and no internal one, and calls only safe callables).

Rendering is on every hook call (about two dozen texts per card), so compiling keeps what does not change:
each template's globals as a plain dict (Jinja's default, a ChainMap over the environment's globals, is
copied key by key on every render) and, for a text with no placeholder or statement, its words.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from jinja2.sandbox import SandboxedEnvironment

TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
IMPURE_GLOBALS = frozenset({"lipsum", "cycler", "joiner", "namespace"})
MEMO_SIZE = 128  # words kept per text


def compile_source(source: str) -> Template:
    """Raises jinja2's TemplateSyntaxError; the globals are the environment's, which nothing changes later."""
    template = TEMPLATES.from_string(source)
    template.globals = dict(template.globals)
    return template


def words(text: str) -> str:
    """Runs of whitespace (line breaks of a template included) as one space."""
    return " ".join(text.split())


def is_plain(source: str) -> bool:
    """Template data only: what it renders cannot depend on the values it is given."""
    return all(
        isinstance(node, nodes.Output) and all(isinstance(part, nodes.TemplateData) for part in node.nodes)
        for node in TEMPLATES.parse(source).body
    )


def is_pure(source: str) -> bool:
    """The same values always give the same words: no random filter, no lorem ipsum, no helper object whose
    printed form carries its address."""
    tree = TEMPLATES.parse(source)
    return not any(node.name == "random" for node in tree.find_all(nodes.Filter)) and not any(
        node.name in IMPURE_GLOBALS for node in tree.find_all(nodes.Name)
    )


@dataclass(frozen=True)
class Text:
    """A wording text: its template; its words when it has no placeholder (rendered once, here); and, when its
    words depend on its values only, the words of the values it last saw (a bounded memo: parameters from the
    policy, drugs and doses recur on every call)."""

    template: Template
    plain: str | None = None
    pure: bool = False
    memo: dict[Hashable, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def compile(cls, source: str) -> Text:
        template = compile_source(source)
        return cls(template, words(template.render()) if is_plain(source) else None, is_pure(source))

    def render(self, values: dict[str, Any], key: Hashable | None = None) -> str:
        """The words of the text with ``values`` (raises jinja2's TemplateError); ``key`` stands for the values
        in the memo, None if they cannot be memoised."""
        if self.plain is not None:
            return self.plain
        if key is None or not self.pure:
            return words(self.template.render(values))
        found = self.memo.get(key)
        if found is None:
            found = words(self.template.render(values))
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()  # bounded: chart values (temperatures, doses) vary without end
            self.memo[key] = found
        return found
