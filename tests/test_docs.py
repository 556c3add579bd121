"""The README and the docs site stay navigable: every relative link resolves, the README stays short.

``mkdocs build --strict`` (``make test``, ``make docs``) checks the site's own links and anchors too; these tests
also cover README.md, which is not part of the site, and run without mkdocs installed.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README_MAX_BYTES = 12 * 1024  # issue 24: the README is an entry point; everything else lives in the site
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where link-like strings are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def links(text: str) -> list[str]:
    return LINK.findall(prose(text))


def slug(heading: str) -> str:
    """Python-Markdown's toc slug (what MkDocs links to): markup dropped, ASCII, lower case, runs of spaces and
    hyphens made one hyphen."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = text.replace("`", "").replace("*", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8")))}


def broken_links(page: Path) -> list[str]:
    bad = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: — not ours to check offline
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target}: {path or dest.name} has no heading with the anchor #{anchor}")
    return bad


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    bad = broken_links(page)
    assert not bad, f"{page.relative_to(ROOT)}:\n" + "\n".join(bad)


def test_readme_stays_short():
    size = (ROOT / "README.md").stat().st_size
    assert size <= README_MAX_BYTES, (
        f"README.md is {size:,} bytes (limit {README_MAX_BYTES:,}): move the detail into a page under docs/ and link it"
    )


def test_every_page_is_in_the_site_nav():
    """A page missing from mkdocs.yml's nav is unreachable from the site's menu (checked here without mkdocs)."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    missing = [
        str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md") if f" {p.relative_to(DOCS).as_posix()}\n" not in nav
    ]
    assert not missing, f"pages not in mkdocs.yml's nav: {missing}"


def test_architecture_page_has_the_generated_layer_block():
    """The layer table is generated into this block from tests/test_import_graph.py: the markers must stay."""
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    assert text.count("<!-- layers:start -->") == 1 and text.count("<!-- layers:end -->") == 1
    assert text.index("<!-- layers:start -->") < text.index("<!-- layers:end -->")


PACKAGES = ("edgenet", "converters", "quantization", "device_bench")
CODE_PATH = re.compile(r"`((?:edgenet|converters|quantization|device_bench|tests|benchmarks|scripts|docs)/[\w./-]*)`")


def test_code_paths_named_in_the_docs_exist():
    """A module or folder the docs name in backticks (``converters/kinds.py``) is where they say: code that moves
    takes its docs with it. Placeholders in capitals (``backends/NAME.py``) are not paths."""
    stale = sorted(
        f"{page.relative_to(ROOT)}: {path}"
        for page in pages()
        for path in CODE_PATH.findall(page.read_text(encoding="utf-8"))
        if not re.search(r"[A-Z*]", path) and not (ROOT / path).exists()
    )
    assert not stale, "paths named in the docs that do not exist:\n" + "\n".join(stale)


def test_the_code_map_names_every_module():
    """docs/architecture.md's code map names every module, or the sub-package holding it, by its path."""
    named = set(re.findall(r"`([\w./-]+)`", (DOCS / "architecture.md").read_text(encoding="utf-8")))
    missing = []
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            rel = f.relative_to(ROOT)
            if f.name in ("__init__.py", "__main__.py") or "_vendor" in rel.parts:
                continue
            covering = {rel.as_posix()} | {d.as_posix() + "/" for d in rel.parents if len(d.parts) >= 2}
            if not covering & named:
                missing.append(rel.as_posix())
    assert not missing, f"modules missing from the code map in docs/architecture.md: {missing}"


def test_the_link_checker_catches_what_it_must(tmp_path):
    """A checker that finds nothing would pass any README: feed it a page with known good and bad links."""
    (tmp_path / "other.md").write_text("# Other page\n\n## A `code` heading: yes\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n[ok](other.md) [ok](other.md#a-code-heading-yes) [ok](#title) [web](https://example.com/x)\n"
        "[gone](missing.md) [bad anchor](other.md#nope) ![img](pic.png)\n"
        "`[not a link](nowhere.md)`\n\n```\n[in a block](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#nope: other.md has no heading with the anchor #nope",
        "pic.png: no such file",
    ]
