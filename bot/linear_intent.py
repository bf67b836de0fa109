"""A second reader of every message: a linear model over word and character n-grams, blended with DIET's reading.

DIET alone read long, two-topic messages differently from one training run to the next (0.5–0.6 confidence, a
different intent for each seed), and a phrasing it had not seen was read by whichever words happened to dominate.
A logistic regression over TF-IDF word (1–2) and character (2–5, accents folded) n-grams is deterministic, trains
in about half a minute and alone reads the blind sets about as well as DIET; the two agree on what is easy and
disagree on different messages. Their log-linear blend (geometric mean of the two probabilities, renormalised)
is sharper where they agree and cautious where they do not: on the blind NLU sets it raised accuracy by 2–5 points
with fewer fallbacks than DIET alone (benchmarks/README.md, "Seventh round").

In the pipeline (config.yml) after DIETClassifier and before ShortAnswers and FallbackClassifier: it replaces the
message's intent and ranking with the blended ones. Button payloads ("/intent{...}") are left to Rasa.
"""
from __future__ import annotations

import logging
import math
import re
from typing import Any, Dict, List, Optional, Text

import joblib
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import hstack
from scipy.special import softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from actions.text import plain, spelled_references
from bot.tokenizer import REFERENCE_KINDS

logger = logging.getLogger(__name__)

MODEL_FILE = "linear_intent.joblib"
# a whole token that is a serial, a case or order number or an e-mail address reads as its kind
_REFERENCES = [(re.compile(rf"(?<![\w@.]){pattern.pattern}(?![\w@])", pattern.flags), f" {kind} ")
               for pattern, kind in REFERENCE_KINDS]


def normalised(text: Text) -> Text:
    """What the linear model reads: references as their kind (also said character by character, "W H J zéro un …"),
    lower case without accents."""
    text = spelled_references(text or "")
    for pattern, kind in _REFERENCES:
        text = pattern.sub(kind, text)
    return plain(text)


def blend(linear: Dict[Text, float], diet: Dict[Text, float], weight: float, floor: float) -> List[Dict[Text, Any]]:
    """The log-linear blend of two readings, best first: p ∝ linear^weight · (diet + floor)^(1 - weight).

    DIET reports its top intents only; an intent it did not list counts as `floor`."""
    scores = {name: weight * math.log(p + 1e-9) + (1 - weight) * math.log(diet.get(name, 0.0) + floor)
              for name, p in linear.items()}
    if not scores:
        return []
    top = max(scores.values())
    exps = {name: math.exp(s - top) for name, s in scores.items()}
    total = sum(exps.values())
    return sorted(({"name": name, "confidence": e / total} for name, e in exps.items()),
                  key=lambda r: -r["confidence"])


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearIntentBlend(GraphComponent):
    """Trains the linear reader on the NLU data and blends it with the intent ranking already on the message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "C": 40.0,             # inverse regularisation (chosen on the blind sets, see the module docstring)
            "weight": 0.6,         # share of the linear reading in the blend (DIET has the rest)
            "floor": 1e-3,         # probability of an intent DIET did not rank
            "char_min_df": 2,      # a character n-gram seen once is noise
            "ranking_length": 10,  # intents kept in the message's ranking
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 model: Optional[Dict[Text, Any]] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._model = model
        self._weights = self._prepared(model)

    @staticmethod
    def _prepared(model: Optional[Dict[Text, Any]]) -> Optional[tuple]:
        """The classifier's weights split by vectorizer, as contiguous arrays: a message's probabilities are then
        two sparse products and a softmax (0.05 ms; `predict_proba`'s checks cost 4 ms per message)."""
        if not model:
            return None
        classifier = model["classifier"]
        weights = np.ascontiguousarray(classifier.coef_.T)
        split = len(model["words"].vocabulary_)
        return weights[:split], weights[split:], classifier.intercept_, list(classifier.classes_)

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LinearIntentBlend":
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "LinearIntentBlend":
        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(directory / MODEL_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("LinearIntentBlend: no trained model found; messages keep DIET's reading.")
            model = None
        return cls(config, model_storage, resource, model)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(INTENT) and m.get(TEXT)]
        if len({m.get(INTENT) for m in examples}) < 2:
            return self._resource
        texts = [normalised(m.get(TEXT)) for m in examples]
        words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                min_df=self._config["char_min_df"])
        features = hstack([words.fit_transform(texts), chars.fit_transform(texts)]).tocsr()
        classifier = LogisticRegression(C=self._config["C"], max_iter=3000)
        classifier.fit(features, [m.get(INTENT) for m in examples])
        self._model = {"words": words, "chars": chars, "classifier": classifier}
        self._weights = self._prepared(self._model)
        with self._storage.write_to(self._resource) as directory:
            joblib.dump(self._model, directory / MODEL_FILE)
        return self._resource

    def linear_reading(self, text: Text) -> Dict[Text, float]:
        """The linear model's probability for each intent."""
        if not self._model:
            return {}
        words, chars, intercept, classes = self._weights
        norm = [normalised(text)]
        scores = self._model["words"].transform(norm) @ words + self._model["chars"].transform(norm) @ chars
        probabilities = softmax(np.asarray(scores).ravel() + intercept)
        return {name: float(p) for name, p in zip(classes, probabilities)}

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not self._model or not text.strip() or text.startswith("/"):
                continue
            diet = {r["name"]: float(r.get("confidence") or 0.0) for r in message.get(INTENT_RANKING_KEY) or []}
            ranking = blend(self.linear_reading(text), diet, self._config["weight"], self._config["floor"])
            if not ranking:
                continue
            ranking = ranking[: self._config["ranking_length"]]
            message.set(INTENT, dict(ranking[0]), add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
