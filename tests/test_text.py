"""tasks/text.py: the shared text helpers (bylines here; normalisation is tested with cleaning)."""

from __future__ import annotations

import pytest

from newsetl.tasks.text import author_name


@pytest.mark.parametrize(
    ("byline", "author"),
    [
        ("By Jane Roe", "Jane Roe"),
        ("View all posts by Daniel Lemire", "Daniel Lemire"),
        ("Zeige alle Beiträge von Petra Ruland", "Petra Ruland"),
        ("Por Alberto Ávila", "Alberto Ávila"),
        ("Par Attac France", "Attac France"),
        ("Auteur Anna Kubišta", "Anna Kubišta"),
        ("责任编辑：孔德明", "孔德明"),
        ("Phil Helsel is a reporter for NBC News", "Phil Helsel"),
        ("Byron Smith", "Byron Smith"),  # "By" only as a word of its own
        ("Di Maio", "Di Maio"),  # a surname that begins like "by" in Italian
        ("By", "By"),  # nothing after it: kept rather than lost
        ("", None),
        (None, None),
    ],
)
def test_a_byline_gives_the_author_without_the_words_around_the_name(byline, author):
    assert author_name(byline) == author
