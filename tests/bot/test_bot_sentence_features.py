"""The pretrained sentence features (bot/sentence_features.py): one 512-number sentence feature per message, the
same for the same text, and closer for two phrasings of one request (in either language) than for two requests."""
from __future__ import annotations

import numpy as np
import pytest
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.sentence_features import SentenceEncoderFeaturizer, encode


def featurizer(**config) -> SentenceEncoderFeaturizer:
    return SentenceEncoderFeaturizer("sentence", {**SentenceEncoderFeaturizer.get_default_config(), **config})


def sentence_vector(message: Message) -> np.ndarray:
    (features,) = [f for f in message.features if f.type == FEATURE_TYPE_SENTENCE and f.attribute == TEXT]
    return features.features


def test_each_message_gets_one_sentence_feature():
    messages = [Message(data={TEXT: text}) for text in ("le copieur fait un bruit", "turn off my notifications")]
    featurizer().process(messages)
    vectors = [sentence_vector(m) for m in messages]
    assert all(v.shape == (1, 512) for v in vectors)
    assert np.allclose(np.linalg.norm(vectors[0]), 1.0, atol=1e-3)
    assert not np.allclose(vectors[0], vectors[1])


def test_training_examples_are_featurized_in_batches_like_single_messages():
    texts = [f"je voudrais commander {n} toners" for n in range(5)]
    data = TrainingData([Message(data={TEXT: t, "intent": "order_consumables"}) for t in texts])
    featurizer(batch_size=2).process_training_data(data)
    single = Message(data={TEXT: texts[3]})
    featurizer().process([single])
    assert np.allclose(sentence_vector(data.training_examples[3]), sentence_vector(single), atol=1e-5)


def test_a_message_without_text_is_left_alone():
    message = Message(data={"intent": "greet"})
    featurizer().process([message])
    assert message.features == []


@pytest.mark.parametrize(("a", "same", "other"), [
    ("I get an email every time a ticket changes, turn them off", "désactive mes notifications par e-mail",
     "le copieur fait un bruit de ferraille"),
    ("where is my case about the paper jam at", "où en est mon dossier de bourrage", "commander du toner noir"),
])
def test_same_meaning_is_closer_than_another_request_across_languages(a, same, other):
    va, vs, vo = encode([a, same, other])
    assert float(va @ vs) > float(va @ vo)


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        featurizer(batch_size=0)
