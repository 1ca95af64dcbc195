"""'Add more detail' is not a finding: recognise issues that only wish for more detail, docs or tests."""

from __future__ import annotations

import re

_WISH = re.compile(
    r"^\s*(?:please\s+)?(?:consider\s+)?(?:add(?:ing)?|include|including|provide|providing|document(?:ing)?|"
    r"clarify(?:ing)?|elaborat\w*|expand(?:ing)?(?: on)?|describe|describing|specify(?:ing)?|explain(?:ing)?|"
    r"write|writing|improve|improving|need|needs|lack(?:s|ing)?|missing|insufficient|incomplete|unclear|vague|"
    r"more|further|there (?:is|are) no|no)\b"
    r"(?:\s+(?:a|an|the|some|more|further|additional|extra|better|clear|clearer|proper|detailed|explicit|"
    r"sufficient|enough|any|of|on|about|for|in|to|with|unit|integration|inline|code|api|design|technical|user))*"
    r"(?:\s+[\w`'-]+){0,3}?\s+"  # what it is about: 'a detailed description', 'payment flow section'
    r"(?:details?|detail(?:ed)?|documentation|docs?|comments?|tests?|testing|test coverage|coverage|examples?|"
    r"explanations?|descriptions?|context|information|info|clarity|clarification|docstrings?|specifics|"
    r"diagrams?|rationale|sections?|overview|outline|specifications?)\b"
    r"(?:\s+[\w`'-]+,?){0,16}\s*[.!]?\s*$",
    re.I,
)
_CONCRETE = re.compile(r"\b(wrong|incorrect|contradict\w*|conflict\w*|fail\w*|broken|leak\w*|unbounded|race|"
                       r"injection|exposed?|insecure|double|duplicate|lost|loses|overflow|deadlock|crash\w*|"
                       r"unauthori[sz]ed|bypass\w*|timeout|never|inconsistent|allow\w*|lets?|leav\w*|forever|"
                       r"unlimited|anyone|any user|plain ?text|no way|negative|public(?:ly)?|fake|forg\w*|"
                       r"drop\w*)\b", re.I)


def is_wish(text: str) -> bool:
    """True when a sentence only asks for more detail, documentation, comments, examples or tests."""
    return bool(_WISH.match(text)) and not _CONCRETE.search(text)


def wish_only(title: str, fix: str) -> bool:
    """An issue is dropped when its title is a wish and its fix names nothing concrete beyond one."""
    return is_wish(title) and (not fix.strip() or is_wish(fix) or not _CONCRETE.search(fix))


# a fix that only tells the document to say more ("The document should specify the external dependencies ...")
_DOC_SHOULD = re.compile(r"^\s*(?:the\s+)?(?:document|design|prd|rfc|spec\w*|proposal|plan)\s+(?:should|must|needs? to|"
                         r"could|would)\b", re.I)


def asks_only_for_more(fix: str) -> bool:
    """A fix that names nothing concrete: empty, a wish for detail, or "the document should ..." with no failure,
    contradiction or attack in it."""
    return not fix.strip() or ((is_wish(fix) or bool(_DOC_SHOULD.match(fix))) and not _CONCRETE.search(fix))
