"""bot/tokenizer.py: references are featurized as their kind, their text (what entities are cut from) kept."""
from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.tokenizer import ReferenceAwareTokenizer


def tokens(text: str):
    tokenizer = ReferenceAwareTokenizer(ReferenceAwareTokenizer.get_default_config())
    return tokenizer.tokenize(Message(data={TEXT: text}), TEXT)


@pytest.mark.parametrize("text, lemmas", [
    ("c'est la ZZZ99999", ["c", "est", "la", "__serial__"]),
    ("it's whj01481", ["it", "s", "__serial__"]),
    ("status of CS0032498 please", ["status", "of", "__case__", "please"]),
    ("order ORD0009999", ["order", "__order__"]),
    ("invite anna.king@example.com", ["invite", "__email__"]),
    ("le compteur 112 est à 45300", ["le", "compteur", "112", "est", "à", "45300"]),
    ("ABC1234 and ABCD12345 are not serials", ["ABC1234", "and", "ABCD12345", "are", "not", "serials"]),
])
def test_references_get_their_kind_as_lemma(text, lemmas):
    assert [t.lemma for t in tokens(text)] == lemmas


def test_token_text_and_offsets_are_unchanged():
    (first, second) = tokens("la WHJ01481")[0:2]
    assert (second.text, second.start, second.end) == ("WHJ01481", 3, 11)
    assert first.text == first.lemma == "la"


def test_other_attributes_are_left_alone():
    tokenizer = ReferenceAwareTokenizer(ReferenceAwareTokenizer.get_default_config())
    intent_tokens = tokenizer.tokenize(Message(data={INTENT: "report_fault"}), INTENT)
    assert all(t.lemma == t.text for t in intent_tokens)
