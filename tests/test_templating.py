"""Template filters: how notes become text with links."""

from __future__ import annotations

import re

import pytest

from taskly.templating import linkify


def links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]*)"', html)


@pytest.mark.parametrize(
    ("notes", "expected_links", "expected_text"),
    [
        (
            'Quoted: "https://example.com/q" and <https://example.com/angle>',
            ["https://example.com/q", "https://example.com/angle"],
            "Quoted: &#34;{0}&#34; and &lt;{1}&gt;",
        ),
        ("'https://example.com/s'", ["https://example.com/s"], "&#39;{0}&#39;"),
        (
            "(see https://en.wikipedia.org/wiki/Foo_(bar)).",
            ["https://en.wikipedia.org/wiki/Foo_(bar)"],
            "(see {0}).",
        ),
        ("https://example.com/a?b=1&c=2.", ["https://example.com/a?b=1&amp;c=2"], "{0}."),
        ("no link: https:// or ftp://example.com", [], "no link: https:// or ftp://example.com"),
    ],
)
def test_links_stop_at_quotes_brackets_and_trailing_punctuation(
    notes, expected_links, expected_text
):
    html = str(linkify(notes))
    assert links(html) == expected_links
    text = re.sub(r"<a [^>]*>([^<]*)</a>", r"\1", html)
    assert text == expected_text.format(*expected_links)


def test_markup_in_notes_is_text():
    html = str(linkify('<script>alert(1)</script> https://e.com/"><b>'))
    assert "<script>" not in html and "<b>" not in html
    assert links(html) == ["https://e.com/"]


def test_highlight_marks_the_search_term_and_escapes_everything_else():
    from taskly.templating import highlight

    assert highlight("Plain", "") == "Plain"
    assert str(highlight("Pear tart and PEARS", "pear")) == (
        "<mark>Pear</mark> tart and <mark>PEAR</mark>S"
    )
    marked = str(highlight("<b>50%</b> off", "50%"))
    assert marked == "&lt;b&gt;<mark>50%</mark>&lt;/b&gt; off"
    assert str(highlight("a.b", ".")) == "a<mark>.</mark>b"  # the term is text, not a pattern
