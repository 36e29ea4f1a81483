"""Mail texts from the Jinja templates in services/notify/templates/mail/: `<name>.txt` (plain, no escaping) and
`<name>.html` (autoescaped: names and titles come from users). Independent of Flask's request context, because
consumers and tasks render too."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates" / "mail"


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,  # a missing value is a bug, not an empty spot in a mail
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_mail(template: str, /, **context: Any) -> tuple[str, str]:
    """(plain text, html) of the mail `template`."""
    env = _environment()
    return env.get_template(f"{template}.txt").render(**context), env.get_template(f"{template}.html").render(**context)
