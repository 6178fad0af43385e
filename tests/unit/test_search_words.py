"""Word-prefix rules of API.md "Listing and search", as pure functions."""

from __future__ import annotations

import pytest

from chalicelib.services.search_words import ContactText, exact_email, fold, matches, parse_query

ALICE = ContactText("alice@example.com", "Alice", None, "Acme Corp")


def finds(query: str, contact: ContactText = ALICE) -> bool:
    return matches(parse_query(query), contact)


@pytest.mark.parametrize("query", ["alice@exa", "alice", "example.com", "exam", "acme co", "ALICE", "Acme  Corp"])
def test_the_contracts_examples_find_alice(query):
    assert finds(query)


@pytest.mark.parametrize("query", ["example.org", "cme", "lice", "acme x", "alice@example.com.au", "corp."])
def test_the_contracts_counter_examples_find_nothing(query):
    assert not finds(query)


def test_case_and_accents_are_ignored_both_ways():
    zoe = ContactText("zoe@muller.de", "Zoë", "Müller", "Straße GmbH")
    assert finds("zoe muller", zoe)
    assert finds("ZOË MÜLL", zoe)
    assert finds("strasse", zoe)
    assert fold("Ærøskøbing") == "ærøskøbing"  # letters without a decomposition stay themselves
    assert finds("Strasse", ContactText("x@y.de", company="STRASSE"))


def test_terms_with_at_or_dot_match_email_words_only():
    contact = ContactText("bob@other.net", "Example.com", None, "example.com Ltd")
    # "example" is a word of the company, but "example.com" is matched against email words only.
    assert finds("example", contact)
    assert not finds("example.com", contact)
    assert finds("other.net", contact) and finds("bob@", contact) and finds("bob@other.net", contact)


def test_other_punctuation_splits_a_term_like_the_fields():
    contact = ContactText("jl@picard.fr", "Jean-Luc", "O'Brien", None)
    assert finds("jean-luc", contact)
    assert finds("o'brien", contact)
    assert finds("luc brien", contact)
    assert not finds("jean-paul", contact)


def test_local_part_and_email_runs_count_as_words():
    contact = ContactText("first.last+news@mail.example.co.uk")
    assert finds("first.last", contact)  # the local part, whole
    assert finds("last", contact) and finds("news", contact) and finds("uk", contact)
    assert finds("mail.example.co", contact)  # a prefix of the domain
    assert not finds("example.co.uk", contact)  # not a prefix of the domain nor of the address


def test_a_term_without_letters_or_digits_constrains_nothing():
    assert parse_query("  -- + ") == []
    assert finds("alice --")


def test_index_tokens_are_the_words_no_other_word_extends():
    tokens = ContactText("alice.smith@example.com", "Alice", "Smith", "Acme Corp").index_tokens()
    assert tokens == {"alice.smith@example.com", "example.com", "smith", "com", "acme", "corp"}


def test_every_prefix_of_every_word_finds_the_contact_through_some_token():
    contact = ContactText("jean-luc.o'brien@star-fleet.example", "Jean-Luc", "O'Brien", "Star Fleet Ltd.")
    tokens = contact.index_tokens()
    _, every = contact.words()
    for word in every:
        for end in range(1, len(word) + 1):
            assert any(token.startswith(word[:end]) for token in tokens), word[:end]


def test_exact_email_is_one_whole_address():
    assert exact_email(parse_query("Alice@Example.com")) == "alice@example.com"
    assert exact_email(parse_query("zoë@exämple.de")) == "zoë@exämple.de"  # looked up as stored, not folded
    assert exact_email(parse_query("alice@exa")) is None
    assert exact_email(parse_query("alice@example.com bob")) is None
    assert exact_email(parse_query("example.com")) is None


def test_long_words_are_indexed_by_their_start_and_still_matched_whole():
    long_company = "Supercalifragilistic" * 10
    contact = ContactText("x@y.com", company=long_company)
    assert max(len(t) for t in contact.index_tokens()) == 100
    [term] = parse_query(long_company)
    assert all(len(p) <= 100 for p in term.index_prefixes())
    assert any(t.startswith(term.index_prefixes()[0]) for t in contact.index_tokens())
    assert finds(long_company, contact) and not finds(long_company + "x", contact)
