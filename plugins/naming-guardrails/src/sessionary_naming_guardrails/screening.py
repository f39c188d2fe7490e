"""Guardrails that screen what a label says: ``label-only``, ``pii`` and ``blocklist``."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any, ClassVar

from sessionary.naming import MODEL, NameRejected, NamingContext, NamingGuardrail, positive_int
from sessionary_naming_guardrails.cleaning import trim_edges

__all__ = [
    "DEFAULT_BLOCKLIST",
    "BlocklistGuardrail",
    "LabelOnlyGuardrail",
    "PiiGuardrail",
    "redact",
]

_REFUSAL = re.compile(
    r"^(?:i'?m sorry|i am sorry|sorry\b|i apologi[sz]e|(?:my )?apologies|unfortunately|"
    r"i (?:can(?:'|\u2019)?t|cannot|can not|won(?:'|\u2019)?t|will not|am unable|am not able|"
    r"do not|don(?:'|\u2019)?t|must decline)\b|i(?:'|\u2019)m (?:unable|not able)\b|"
    r"as an ai\b|as a (?:large )?language model\b|no[.!]?$|n/?a$|none$|null$|unknown$|"
    r"untitled$|no title\b|title$|name$)",
    re.IGNORECASE,
)
_REFUSAL_ANYWHERE = re.compile(
    r"\b(?:as an ai|language model|i cannot|i can(?:'|\u2019)t (?:help|assist|do)|"
    r"i(?:'|\u2019)m not able to|not able to (?:help|assist))\b",
    re.IGNORECASE,
)
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules|"
    r"above|previous|prior|everything)\b|\bsystem prompt\b|\byou are now\b|\bdeveloper mode\b|"
    r"\bjailbreak|\bnew instructions?\b|\bdo anything now\b|\bprompt injection\b",
    re.IGNORECASE,
)
_LINK = re.compile(
    r"https?://|\bwww\.|(?<![@\w.-])[\w-]+(?:\.[\w-]+)*\."
    r"(?:com|net|org|io|ru|cn|xyz|info|biz|top|co|me|ly|app|dev)\b(?!@)",
    re.IGNORECASE,
)
_ADDRESSES_READER = re.compile(r"\b(?:you|your|yours|yourself|you're|you\u2019re)\b", re.I)
_SENTENCE_BREAK = re.compile(r"[.!?]\s+\S")


class LabelOnlyGuardrail(NamingGuardrail):
    """Rejects a model answer that is not a label: a refusal, an instruction, or prose.

    Refusals ("I'm sorry, I can't..."), non-answers ("N/A", "Untitled"), instructions
    (prompt-injection phrases, links, text addressing the reader as "you") and prose
    (more than ``max_words * 3`` words, or several sentences over ``max_words``) are
    rejected, so the fallbacks name the session instead. Applies to model answers only:
    manual names and fallback proposals pass unchecked.
    """

    name: ClassVar[str] = "label-only"
    order: ClassVar[int] = 20

    def __init__(self, *, max_words: int = 5, **options: Any) -> None:
        super().__init__(max_words=max_words, **options)
        self.max_words = positive_int(max_words, "max_words")

    def check(self, proposal: str, context: NamingContext) -> str:
        """The proposal unchanged, or :class:`NameRejected` saying what it is instead."""
        if context.source != MODEL:
            return proposal
        text = " ".join(proposal.split())
        if _REFUSAL.search(text) or _REFUSAL_ANYWHERE.search(text):
            raise NameRejected("the answer is a refusal or a non-answer, not a label")
        if _INSTRUCTION.search(text) or _LINK.search(text):
            raise NameRejected("the answer is an instruction or a link, not a label")
        if _ADDRESSES_READER.search(text):
            raise NameRejected("the answer addresses the reader, so it is not a label")
        words = len(text.split())
        if words > self.max_words * 3:
            raise NameRejected(f"the answer is {words} words of prose, not a label")
        if words > self.max_words and _SENTENCE_BREAK.search(text.rstrip(".!?")):
            raise NameRejected("the answer is several sentences, not a label")
        return proposal


_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MAILTO = re.compile(r"\bmailto:\S*", re.IGNORECASE)
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w.])"
)
_IPV6 = re.compile(
    r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])"
    r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,6}(?::[0-9A-Fa-f]{1,4}){1,6}(?![\w:])"
    r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,7}:(?![\w:])"
    r"|(?<![\w:])::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?(?![\w:])"
)
_CARD = re.compile(r"(?<![\w])(?:\d[ -]?){12,18}\d(?![\w])")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{6,}\d(?![\w])")
#: Words left dangling once what followed them is removed.
_CONNECTORS = frozenset(
    [
        "for",
        "to",
        "at",
        "from",
        "with",
        "and",
        "or",
        "of",
        "by",
        "via",
        "re",
        "about",
        "on",
        "in",
        "is",
        "call",
        "email",
        "phone",
        "contact",
        "number",
        "ip",
        "address",
        "card",
        "tel",
        "fax",
        "mobile",
    ]
)


def _phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group())
    return " " if digits >= 9 else match.group()


def redact(text: str) -> str:
    """``text`` without e-mail addresses, IP addresses, card numbers and phone numbers.

    >>> redact("Refund 4111 1111 1111 1111 for ann@example.com")
    'Refund for'
    """
    text = _MAILTO.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _IPV6.sub(" ", text)
    text = _IPV4.sub(" ", text)
    text = _CARD.sub(" ", text)
    text = _PHONE.sub(_phone, text)
    return " ".join(text.split()).replace(" ,", ",")


def _tidy(text: str) -> str:
    text = re.sub(r"\(\s*\)|\[\s*\]|\{\s*\}|<\s*>", " ", text)
    words = [w for w in text.split() if w.strip("-\u2013\u2014:,;/|")]
    while words and words[-1].casefold().strip(".,;:") in _CONNECTORS:
        words.pop()
    while words and words[0].casefold().strip(".,;:") in ("re", "to", "for", "from", "at", "and"):
        words.pop(0)
    return trim_edges(" ".join(words))


class PiiGuardrail(NamingGuardrail):
    """Removes personal data: e-mail addresses, phone numbers, card numbers, IP addresses.

    What remains is tidied (no dangling "for" or empty brackets); a proposal that was
    nothing but personal data is rejected. Phone numbers are runs of at least nine
    digits, so dates and years are kept.
    """

    name: ClassVar[str] = "pii"
    order: ClassVar[int] = 30

    def check(self, proposal: str, context: NamingContext) -> str:
        """The proposal without personal data, or :class:`NameRejected` if nothing is left."""
        redacted = redact(proposal)
        if redacted == " ".join(proposal.split()):
            return proposal
        tidy = _tidy(redacted)
        if not any(ch.isalnum() for ch in tidy):
            raise NameRejected("nothing is left once personal data is removed")
        return tidy


#: Blocked by default: profanity that has no place in an inbox.
DEFAULT_BLOCKLIST: tuple[str, ...] = (
    "fuck",
    "fucking",
    "motherfucker",
    "shit",
    "bullshit",
    "cunt",
    "bitch",
    "asshole",
    "bastard",
    "wanker",
)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


class BlocklistGuardrail(NamingGuardrail):
    """Rejects a proposal containing a blocked word or phrase (whole words, any case).

    ``words`` replaces the default list (:data:`DEFAULT_BLOCKLIST`); ``extra_words``
    adds to it. Matching folds case and Unicode compatibility forms, so
    full-width or styled letters do not slip through.
    """

    name: ClassVar[str] = "blocklist"
    order: ClassVar[int] = 40

    def __init__(
        self,
        *,
        words: Iterable[str] | None = None,
        extra_words: Iterable[str] = (),
        **options: Any,
    ) -> None:
        super().__init__(words=words, extra_words=extra_words, **options)
        chosen = list(DEFAULT_BLOCKLIST if words is None else words) + list(extra_words)
        for word in chosen:
            if not isinstance(word, str) or not word.strip():
                raise ValueError(f"blocklist entries must be non-empty strings, got {word!r}")
        self.words = tuple(_fold(word.strip()) for word in chosen)
        alternatives = "|".join(
            r"\s+".join(re.escape(part) for part in word.split())
            for word in sorted(self.words, key=len, reverse=True)
        )
        self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)") if alternatives else None

    def check(self, proposal: str, context: NamingContext) -> str:
        """The proposal unchanged, or :class:`NameRejected` if it holds a blocked word."""
        if self._pattern is not None and self._pattern.search(_fold(proposal)):
            raise NameRejected("the name contains a blocked word")
        return proposal
