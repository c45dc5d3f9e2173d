"""The catalog's templates, compiled once at start-up in Jinja2's sandbox (a catalog is data, not code: a
site's text reaches no attribute starting with ``_`` and no internal one, and calls only safe callables).

Rendering is on every hook call (about two dozen texts per card), so compiling keeps what does not change:
each template's globals as a plain dict (Jinja's default, a ChainMap over the environment's globals, is
copied key by key on every render) and, for a text with no placeholder or statement, its words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from jinja2.sandbox import SandboxedEnvironment

TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)


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


@dataclass(frozen=True)
class Text:
    """A wording text: its template, and its words when it has no placeholder (rendered once, here)."""

    template: Template
    plain: str | None = None

    @classmethod
    def compile(cls, source: str) -> Text:
        template = compile_source(source)
        return cls(template, words(template.render()) if is_plain(source) else None)

    def render(self, values: dict[str, Any]) -> str:
        """The words of the text with ``values`` (raises jinja2's TemplateError)."""
        if self.plain is not None:
            return self.plain
        return words(self.template.render(values))
