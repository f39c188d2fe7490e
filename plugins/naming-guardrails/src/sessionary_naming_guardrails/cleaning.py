"""Guardrails that clean a label and bound it: ``clean`` and ``length``."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, ClassVar

from sessionary.naming import MANUAL, NameRejected, NamingContext, NamingGuardrail, positive_int
from sessionary.naming.basic import clean_text

__all__ = ["CleanGuardrail", "LengthGuardrail", "clean_label", "trim_edges"]

_QUOTES = (
    "\"'`\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f"
    "\u00ab\u00bb\u2039\u203a\u300c\u300d\u300e\u300f\uff02\uff07"
)
_TRAILING = ".!?,;:\u2026\u3002\uff01\uff1f\uff0c\uff1b\uff1a\u00b7-\u2013\u2014~*_#>|/\\"
_LEADING = ",;:\u2026-\u2013\u2014~*_#>|/\\\u2022\u00b7"

#: "Title:", "Session name -", "Suggested title:" and the like.
_LABEL_PREFIX = re.compile(
    r"^(?:(?:a|the|my|new|short|suggested|proposed|possible|final|session|conversation|chat|"
    r"thread)\s+){0,3}(?:title|name|label|subject|topic|heading|caption)\s*(?:[:\uff1a=\-\u2013\u2014]\s*)",
    re.IGNORECASE,
)
#: "Sure! Here's a title: ..." and "Certainly. ...": lead-ins before the label.
_LEAD_IN = re.compile(
    r"^(?:(?:sure|okay|ok|certainly|of course|absolutely|great|alright)\b[!,.]*\s*)?"
    r"(?:(?:here(?:'s|\u2019s| is| are)|how about|i(?:'d| would) (?:suggest|call it|go with)|"
    r"i suggest|my suggestion(?: is)?)\b[^:\n]*?:\s*)",
    re.IGNORECASE,
)
_POLITE = re.compile(r"^(?:sure|okay|ok|certainly|of course|absolutely|alright)\b[!,.]+\s*", re.I)
_BLOCK_PREFIX = re.compile(r"^(?:#{1,6}\s*|>\s*|[-*+\u2022]\s+|\d{1,2}[.)]\s+)+")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]{0,40}>")
_EMPHASIS = (
    re.compile(r"\*\*(.+?)\*\*"),
    re.compile(r"__(.+?)__"),
    re.compile(r"~~(.+?)~~"),
    re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"),
    re.compile(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])"),
    re.compile(r"`+([^`]*)`+"),
)


def _strip_markdown(line: str) -> str:
    line = _BLOCK_PREFIX.sub("", line.strip())
    line = _LINK.sub(r"\1", line)
    line = _HTML_TAG.sub("", line)
    for pattern in _EMPHASIS:
        line = pattern.sub(r"\1", line)
    return line.replace("**", "").replace("__", "").strip()


def trim_edges(text: str) -> str:
    """Surrounding whitespace, quotes, leading list marks and trailing punctuation removed.

    >>> trim_edges('  "Launch plan!!" ')
    'Launch plan'
    """
    previous = None
    while previous != text:
        previous = text
        text = text.strip().strip(_QUOTES).strip()
        text = text.rstrip(_TRAILING).lstrip(_LEADING)
        if len(text) >= 2 and text[0] in "([{" and text[-1] in ")]}":
            text = text[1:-1]
    return text


def _unlabel(line: str) -> str:
    line = _strip_markdown(line)
    line = _POLITE.sub("", line)
    line = _LEAD_IN.sub("", line)
    line = _LABEL_PREFIX.sub("", trim_edges(line) if line.endswith(('"', "'")) else line)
    return trim_edges(_strip_markdown(line))


def clean_label(text: str) -> str:
    """The label in a model's answer: one line, no quotes, markdown or "Title:" prefix.

    A first line that only leads in ("Here is a title:") is skipped for the next one.

    >>> clean_label('Sure! Here is a title:\\n\\n**"Product Launch Planning."**\\nIt fits.')
    'Product Launch Planning'
    """
    lines = [line for line in text.replace("\r", "\n").split("\n") if line.strip()]
    for index, line in enumerate(lines):
        bare = _strip_markdown(line)
        label = _unlabel(line)
        lead_in_only = bare.rstrip().endswith((":", "\uff1a")) and index + 1 < len(lines)
        if lead_in_only and (not label or label == trim_edges(bare)):
            continue
        if label:
            return clean_text(label)
    return ""


class CleanGuardrail(NamingGuardrail):
    """Cleans a proposal to a bare label on one line.

    Removes surrounding whitespace and quotes, markdown (headings, emphasis, code,
    links, list marks), ``Title:``-style prefixes and lead-ins ("Sure! Here's a
    title:"), and trailing punctuation; keeps the first line that holds a label.
    Rejects a proposal with nothing left. A manual name is only put on one line:
    what a person typed is kept as meant.
    """

    name: ClassVar[str] = "clean"
    order: ClassVar[int] = 10

    def check(self, proposal: str, context: NamingContext) -> str:
        """The cleaned label, or :class:`NameRejected` if nothing is left."""
        if context.source == MANUAL:
            # A person's name is taken as meant: only put on one line, never cut to a line.
            label = clean_text(proposal)
            if not label:
                raise NameRejected("the name is blank")
            return label
        label = clean_label(proposal)
        if not label:
            raise NameRejected("nothing is left once quotes, markdown and prefixes are removed")
        return label


#: Words that make a poor last word once a label is cut short.
_DANGLING = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "for",
        "to",
        "in",
        "on",
        "at",
        "by",
        "with",
        "from",
        "about",
        "via",
        "as",
        "into",
        "onto",
        "than",
        "vs",
        "&",
        "+",
        "-",
        "–",
        "—",
        "/",
        ":",
        ",",
        "de",
        "la",
        "le",
        "les",
        "des",
        "du",
        "et",
        "y",
        "el",
        "los",
        "las",
        "en",
        "con",
        "por",
        "para",
        "der",
        "die",
        "das",
        "und",
        "mit",
        "von",
        "zu",
        "im",
    ]
)


def _drop_dangling(words: list[str]) -> list[str]:
    while len(words) > 1 and words[-1].casefold().strip(".,;:") in _DANGLING:
        words.pop()
    return words


def _is_unspaced_script(ch: str) -> bool:
    name = unicodedata.name(ch, "")
    return name.startswith(("CJK ", "HIRAGANA", "KATAKANA", "THAI ", "LAO ", "KHMER ", "MYANMAR "))


class LengthGuardrail(NamingGuardrail):
    """At most ``max_words`` words (5) and ``max_chars`` characters (60), for generated names.

    A manual name passes unchanged: the limit is for names a model or a fallback
    generates (the core caps a manual name at 200 characters). A longer proposal is
    cut at a word boundary, without a dangling "and" or "of" at the end. Text in
    scripts written without spaces (Chinese, Japanese, Thai) has no countable words, so
    it is cut at ``unspaced_chars`` characters (20) instead.
    """

    name: ClassVar[str] = "length"
    order: ClassVar[int] = 50

    def __init__(
        self, *, max_words: int = 5, max_chars: int = 60, unspaced_chars: int = 20, **options: Any
    ) -> None:
        super().__init__(
            max_words=max_words, max_chars=max_chars, unspaced_chars=unspaced_chars, **options
        )
        self.max_words = positive_int(max_words, "max_words")
        self.max_chars = positive_int(max_chars, "max_chars")
        self.unspaced_chars = positive_int(unspaced_chars, "unspaced_chars")

    def check(self, proposal: str, context: NamingContext) -> str:
        """The proposal cut to the limits; :class:`NameRejected` if nothing is left."""
        if context.source == MANUAL:
            return proposal
        words = proposal.split()
        if len(words) > self.max_words:
            words = _drop_dangling(words[: self.max_words])
        text = " ".join(words)
        limit = self.max_chars
        letters = [ch for ch in text if ch.isalpha()]
        if letters and sum(map(_is_unspaced_script, letters)) * 2 > len(letters):
            limit = min(limit, self.unspaced_chars)
        if len(text) > limit:
            cut = text[: limit + 1]
            space = cut.rfind(" ")
            text = cut[:space] if space > 0 else text[:limit]
            text = " ".join(_drop_dangling(text.split()))
        text = trim_edges(text)
        if not text:
            raise NameRejected("nothing is left once cut to length")
        return text
