"""The docs stay true: the generated option table is current, and every relative link leads somewhere."""

import re
from pathlib import Path

import pytest

from imgserve import options
from tests.support import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_url_api_option_table_is_current() -> None:
    """docs/url-api.md's table is generated from the option registry (SPECS): a new or changed option
    must show there. Regenerate with `imgserve options --update docs/url-api.md`."""
    page = (REPO / "docs" / "url-api.md").read_text()
    assert page == options.with_table(page), "docs/url-api.md is stale: imgserve options --update docs/url-api.md"


def test_the_table_follows_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the staleness test relies on: a row added to SPECS changes the table, a bound that is a
    setting is named, and regenerating replaces only the text between the markers."""
    extra = options.Option("rounded", options.Integer(0, "max_dimension"), None, "corner radius in pixels")
    before = options.markdown()
    monkeypatch.setattr(options, "SPECS", (*options.SPECS, extra))
    after = options.markdown()
    assert after != before
    assert "| `rounded` | whole number from 0 to 8192 (the setting `IMGSERVE_MAX_DIMENSION`) | unset | corner radius" \
        in after
    start, end = options.MARKERS
    page = f"intro\n{start}\nold table\n{end}\nafter\n"
    assert options.with_table(page) == f"intro\n{start}\n{after}{end}\nafter\n"
    with pytest.raises(ValueError, match="options:start"):
        options.with_table("no markers here")


def prose(page: Path) -> str:
    """The page without fenced code blocks and inline code, where a `[x](y)` is not a link."""
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    result = set()
    for heading in re.findall(r"^#{1,6} (.+)$", re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M),
                              flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_relative_links_lead_to_files_and_headings_that_exist(page: Path) -> None:
    broken = []
    for target in LINK.findall(prose(page)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert not broken, f"{page.name}:\n" + "\n".join(broken)


def test_link_check_sees_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [gone](missing.md) [bad](#nowhere) `[code](ignored.md)`\n")
    assert LINK.findall(prose(page)) == ["#title", "missing.md", "#nowhere"]
    assert anchors(page) == {"title"}


def test_readme_stays_short() -> None:
    """The README is the front door (issue #16: at most ~10 KB); details belong in docs/."""
    assert len((REPO / "README.md").read_bytes()) <= 10 * 1024
