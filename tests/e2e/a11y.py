"""axe-core (from npm) as a test helper: every page a browser test visits is checked against WCAG 2.1 A/AA at a
phone and a desktop width, and its serious/critical violations are collected for one readable assertion.

The pages' CSP forbids injected scripts, so the browser contexts that use this are made with `bypass_csp=True` and
axe is evaluated in the page (`page.evaluate(source)`); the app itself never loads it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page

from tests.support.processes import ROOT

AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
BLOCKING = ("serious", "critical")
ARTEFACTS = ROOT / "var" / "e2e"

RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    rule: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
    count: v.nodes.length,
  }));
}"""


@dataclass(frozen=True)
class Violation:
    page: str
    width: str
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]
    count: int

    def __str__(self) -> str:
        return (
            f"{self.page} [{self.width}] {self.impact} {self.rule}: {self.help} "
            f"({self.count} node(s), e.g. {', '.join(self.targets)})"
        )


def axe_source() -> str:
    if not AXE_JS.exists():
        raise FileNotFoundError(f"{AXE_JS} missing: run `bash scripts/install.sh --test` (npm dev dependencies)")
    return AXE_JS.read_text(encoding="utf-8")


def audit(page: Page, name: str, width: str, source: str) -> list[Violation]:
    """Serious and critical WCAG 2.1 A/AA violations of the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(source)  # defines window.axe (needs a context made with bypass_csp=True)
    found = page.evaluate(RUN_AXE, WCAG_TAGS)
    return [
        Violation(name, width, v["rule"], v["impact"], v["help"], tuple(v["targets"]), v["count"])
        for v in found
        if v["impact"] in BLOCKING
    ]


@dataclass
class Auditor:
    """Visits pages, checks each at both widths, saves a screenshot, and remembers what it saw."""

    prefix: str = "whole-day"
    folder: Path = ARTEFACTS
    violations: list[Violation] = field(default_factory=list)
    visited_paths: list[str] = field(default_factory=list)
    _source: str = field(default="", repr=False)

    def check(self, page: Page, name: str) -> None:
        """Audit the page where it is now (after an interaction) at phone and desktop width, then screenshot it."""
        if not self._source:
            self._source = axe_source()
        self.visited_paths.append(urlsplit(page.url).path)
        original = page.viewport_size or WIDTHS["desktop"]
        try:
            for width, size in WIDTHS.items():
                page.set_viewport_size(size)
                self.violations += audit(page, name, width, self._source)
        finally:
            page.set_viewport_size(original)
        self.folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
        page.screenshot(path=str(self.folder / f"{self.prefix}-{safe}.png"), full_page=True)

    def visit(self, page: Page, url: str, name: str, status: int = 200) -> None:
        """Open the page (asserting its HTTP status) and check it."""
        response = page.goto(url)
        assert response is not None and response.status == status, (url, response and response.status)
        page.wait_for_load_state("load")
        self.check(page, name)

    def report(self) -> str:
        return "\n".join(str(v) for v in self.violations)
