"""Word-prefix search rules (API.md "Listing and search"): folding, a contact's words, query terms, matching.

Pure functions, shared by the index writer (which tokens a contact is indexed under)
and the reader (which candidates really match), so both follow one definition.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib.schemas.common import EMAIL_PATTERN

# Runs of letters and digits (\w without the underscore).
_WORD = re.compile(r"[^\W_]+")
# Tokens are indexed by at most this many characters (a sort key holds 1,024 bytes); longer
# query words are looked up by their start and checked whole against the contact.
MAX_TOKEN = 100


def fold(text: str) -> str:
    """Case and accents ignored: NFKD, combining marks dropped, casefolded ("Zoë" -> "zoe", "ß" -> "ss")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def runs(text: str | None) -> list[str]:
    """The words of a field: runs of letters and digits of its folded text."""
    return _WORD.findall(fold(text)) if text else []


def email_words(email: str) -> set[str]:
    """The whole address, its local part and its domain, folded: the only words a term with `@` or `.` meets."""
    folded = fold(email)
    local, _, domain = folded.rpartition("@")
    return {w for w in (folded, local, domain) if w}


@dataclass(frozen=True)
class ContactText:
    """The searchable fields of a contact."""

    email: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None

    def words(self) -> tuple[set[str], set[str]]:
        """(email words, every word): every word adds the runs of each field to the email words."""
        whole = email_words(self.email)
        every = set(whole)
        for value in (self.email, self.first_name, self.last_name, self.company):
            every.update(runs(value))
        return whole, every

    def index_tokens(self) -> set[str]:
        """The words to index: every word that is not a prefix of another of the contact's words.

        A term that starts a word also starts every longer word beginning with that word,
        so indexing only these "maximal" words finds exactly the same contacts with
        fewer items ("alice" is covered by "alice@example.com", "example" by "example.com").
        """
        _, every = self.words()
        ordered = sorted({word[:MAX_TOKEN] for word in every})
        # In sorted order a word's extensions follow it directly, so checking the next word suffices.
        return {w for i, w in enumerate(ordered) if i + 1 == len(ordered) or not ordered[i + 1].startswith(w)}


@dataclass(frozen=True)
class Term:
    """One whitespace-separated piece of a query.

    `whole` terms (holding `@` or `.`) must start one of the email words; other terms are
    split at punctuation into `parts`, each of which must start some word of the contact.
    """

    raw: str  # as typed, lower-cased: an exact address is looked up as stored (lower-cased, not folded)
    text: str
    whole: bool
    parts: tuple[str, ...]

    def index_prefixes(self) -> tuple[str, ...]:
        """The prefixes the index is queried with: every contact matching this term has a token starting with each."""
        return tuple(p[:MAX_TOKEN] for p in ((self.text,) if self.whole else self.parts))


def parse_query(query: str | None) -> list[Term]:
    """The terms of a search text; terms without any letter or digit constrain nothing and are dropped."""
    terms: list[Term] = []
    for raw in (query or "").split():
        text = fold(raw)
        if "@" in text or "." in text:
            terms.append(Term(raw.lower(), text, True, ()))
        else:
            parts = tuple(_WORD.findall(text))
            if parts:
                terms.append(Term(raw.lower(), text, False, parts))
    return terms


def matches(terms: Iterable[Term], contact: ContactText) -> bool:
    """Every term starts some word of the contact (whole terms: some email word)."""
    whole, every = contact.words()
    for term in terms:
        if term.whole:
            if not any(word.startswith(term.text) for word in whole):
                return False
        elif not all(any(word.startswith(part) for word in every) for part in term.parts):
            return False
    return True


def exact_email(terms: list[Term]) -> str | None:
    """The address when the query is one whole email address (answered from the contact itself), else None."""
    if len(terms) != 1 or not terms[0].whole:
        return None
    address = terms[0].raw
    return address if len(address) <= 254 and EMAIL_PATTERN.match(address) else None
