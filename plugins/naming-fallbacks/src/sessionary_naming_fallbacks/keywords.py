"""The ``keywords`` fallback: a label from the words the conversation uses most."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, ClassVar

from sessionary.domain.messages import Role
from sessionary.naming import NamingContext, NamingFallback, positive_int

__all__ = ["STOPWORDS", "KeywordFallback", "keywords"]

#: Words that say nothing about a topic (English), left out of keyword names.
STOPWORDS = frozenset(
    """
    a able about above after again against all also am an and any anything are aren't as at
    be because been before being below between bit both but by can can't cannot could
    couldn't day days did didn't do does doesn't doing don't down during each etc even
    everything few for from further get gets getting give going good got great had hadn't
    has hasn't have haven't having he he'd he'll he's hello help her here here's hers
    herself hey hi him himself his how how's i i'd i'll i'm i've if in into is isn't it it's
    its itself just know let let's like look lot lots make many may me might more most much
    must mustn't my myself need new no nor not nothing now of off ok okay on once one only
    or other ought our ours ourselves out over own please really same see shall shan't she
    she'd she'll she's should shouldn't so some something still such sure take tell than
    thank thanks that that's the their theirs them themselves then there there's these they
    they'd they'll they're they've thing things think this those through time to today
    tomorrow too two under until up use used using very via want was wasn't way we we'd
    we'll we're we've well were weren't what what's when when's where where's which while
    who who's whom why why's will with won't would wouldn't yeah yes yesterday you you'd
    you'll you're you've your yours yourself yourselves
    """.split()  # noqa: SIM905 - a word list reads better as text
)

#: Whole tokens holding an address, a link or a digit: never keywords, maybe personal.
_NOISE = re.compile(r"(?<!\S)(?:\S*[@\d]\S*|(?:https?://|www\.)\S*)")
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*[^\W_]|[^\W\d_]")


def _is_unspaced(word: str) -> bool:
    return any("\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in word)


def keywords(context: NamingContext, count: int = 3) -> list[str]:
    """The ``count`` most used topic words of the conversation, in order of appearance.

    User messages weigh twice as much as the assistant's; e-mail addresses, links and
    words with digits are left out, so are stopwords and words under three letters.
    """
    scores: Counter[str] = Counter()
    first_seen: dict[str, tuple[int, str]] = {}
    position = 0
    for message in context.messages:
        weight = 2 if message.role is Role.USER else 1
        text = _NOISE.sub(" ", message.content or "")
        for match in _WORD.finditer(text):
            word = match.group().strip("'\u2019-")
            key = word.casefold()
            too_short = len(word) < (2 if _is_unspaced(word) else 3)
            if too_short or len(word) > 24 or key in STOPWORDS:
                continue
            scores[key] += weight
            if key not in first_seen:
                first_seen[key] = (position, word)
            position += 1
    best = sorted(scores, key=lambda key: (-scores[key], first_seen[key][0]))[:count]
    best.sort(key=lambda key: first_seen[key][0])
    return [_display(first_seen[key][1]) for key in best]


def _display(word: str) -> str:
    if word.isupper() or not word.islower():
        return word  # acronyms and names keep their case
    return word[:1].upper() + word[1:]


class KeywordFallback(NamingFallback):
    """Names the session from its own words, offline: the ``max_words`` (3) most used.

    >>> from sessionary.domain.messages import Message
    >>> from sessionary.domain.sessions import SessionInfo
    >>> context = NamingContext(
    ...     session=SessionInfo(session_id="s1"),
    ...     messages=[Message(role="user", content="My order arrived broken, I want a refund"),
    ...               Message(role="assistant", content="I opened a refund for your order.")],
    ... )
    >>> KeywordFallback().propose(context)
    'Order Arrived Refund'
    """

    name: ClassVar[str] = "keywords"
    order: ClassVar[int] = 10

    def __init__(self, *, max_words: int = 3, **options: Any) -> None:
        super().__init__(max_words=max_words, **options)
        self.max_words = positive_int(max_words, "max_words")

    def propose(self, context: NamingContext) -> str | None:
        """The keywords joined, or ``None`` when the conversation has none."""
        words = keywords(context, self.max_words)
        return " ".join(words) if words else None
