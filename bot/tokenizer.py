"""Whitespace tokens in which device serials, case and order numbers and e-mail addresses count as their kind.

The CountVectorsFeaturizers read each token's lemma (`use_lemma`, their default) and already turn plain numbers
into `__NUMBER__` (8-digit asset numbers included). A serial such as "ZZZ99999" kept its own letters, so the
model read an unseen serial by its characters ("zz", as in "pizza": out of scope, goodbye) instead of as a
device, and "c'est la ZZZ99999" came out as `affirm`. Here such tokens get their kind as lemma; the token text,
which entities are cut from and which RegexFeaturizer and LexicalSyntacticFeaturizer read, is unchanged.
"""
from __future__ import annotations

import re
from typing import List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

REFERENCE_KINDS = (
    (re.compile(r"CS\d{7}", re.IGNORECASE), "__case__"),
    (re.compile(r"ORD\d{7}", re.IGNORECASE), "__order__"),
    (re.compile(r"[A-Za-z]{3}\d{5}"), "__serial__"),
    (re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"), "__email__"),
)


def reference_kind(word: Text) -> Text | None:
    return next((kind for pattern, kind in REFERENCE_KINDS if pattern.fullmatch(word)), None)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class ReferenceAwareTokenizer(WhitespaceTokenizer):
    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        tokens = super().tokenize(message, attribute)
        if attribute == TEXT:
            for token in tokens:
                token.lemma = reference_kind(token.text) or token.lemma
        return tokens
