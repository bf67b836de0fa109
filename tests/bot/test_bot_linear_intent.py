"""bot/linear_intent.py: the linear reader is trained, stored, loaded, and blended with DIET's ranking."""
from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.linear_intent import LinearIntentBlend, blend, normalised

EXAMPLES = {
    "report_fault": ["the printer is jammed again", "paper stuck in tray 2", "le copieur fait un bruit bizarre",
                     "bourrage dans le magasin", "it smells of burning", "ça imprime des traînées noires"],
    "order_consumables": ["I need toner", "order two black cartridges", "commander du toner cyan",
                          "il nous faut des agrafes", "send us a waste toner box", "je voudrais 3 toners noirs"],
    "case_status": ["where is my case CS0032411", "status of CS0032498", "où en est le dossier CS0032412",
                    "any news on CS0032497", "quel est le statut de CS0032413", "what's happening with CS0032414"],
}


def test_references_read_as_their_kind_and_accents_are_folded():
    assert normalised("Où en est CS0032498 ?") == "ou en est  __case__  ?"
    assert "__serial__" in normalised("la WHJ01481 de l'Accueil")
    assert "__email__" in normalised("écrivez à jane.doe@example.com merci")
    assert "__order__" in normalised("ord0001229?")
    assert "__serial__" not in normalised("WHJ014812")  # nine characters: no serial
    assert normalised("c'est W H J zéro un quatre huit un") == "c'est  __serial__ "  # said character by character


def test_the_blend_sharpens_agreement_and_keeps_a_floor_for_unranked_intents():
    ranking = blend({"a": 0.6, "b": 0.3, "c": 0.1}, {"a": 0.7, "b": 0.2}, weight=0.6, floor=1e-3)
    assert [r["name"] for r in ranking] == ["a", "b", "c"]
    assert ranking[0]["confidence"] > 0.7  # both say "a": surer than either reading
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)
    assert ranking[2]["confidence"] < 0.1 / 5  # DIET did not rank "c": far below the linear 0.1
    # the two disagree: the blend lies between them
    split = {r["name"]: r["confidence"] for r in blend({"a": 0.8, "b": 0.2}, {"b": 0.9, "a": 0.1}, 0.6, 1e-3)}
    assert 0.2 < split["a"] < 0.8 and 0.2 < split["b"] < 0.9
    assert blend({}, {"a": 1.0}, 0.6, 1e-3) == []


@pytest.fixture()
def trained(tmp_path):
    storage = LocalModelStorage(tmp_path)
    resource = Resource("linear_intent")
    context = ExecutionContext(GraphSchema({}), "test")
    component = LinearIntentBlend.create({}, storage, resource, context)
    data = TrainingData([Message(data={"text": text, "intent": intent})
                         for intent, texts in EXAMPLES.items() for text in texts])
    component.train(data)
    return storage, resource, context, component


def _message(text, diet):
    return Message(data={"text": text, "intent": diet[0], "intent_ranking": diet})


def test_a_trained_reader_corrects_an_unsure_diet_reading(trained):
    *_, component = trained
    diet = [{"name": "case_status", "confidence": 0.45}, {"name": "report_fault", "confidence": 0.40},
            {"name": "order_consumables", "confidence": 0.15}]
    (message,) = component.process([_message("the copier is jammed, paper stuck", diet)])
    assert message.get("intent")["name"] == "report_fault"
    names = [r["name"] for r in message.get("intent_ranking")]
    assert names[0] == "report_fault" and set(names) == set(EXAMPLES)
    assert message.get("intent") == message.get("intent_ranking")[0]


def test_the_stored_model_reads_the_same_after_loading(trained):
    storage, resource, context, component = trained
    loaded = LinearIntentBlend.load({}, storage, resource, context)
    text = "commander deux toners noirs"
    assert loaded.linear_reading(text) == pytest.approx(component.linear_reading(text))
    assert max(loaded.linear_reading(text), key=loaded.linear_reading(text).get) == "order_consumables"


def test_button_payloads_and_empty_texts_keep_their_reading(trained):
    *_, component = trained
    diet = [{"name": "case_status", "confidence": 1.0}]
    payload, empty = component.process([_message('/case_status{"case_number":"CS0032411"}', diet),
                                        _message("  ", diet)])
    assert payload.get("intent") == {"name": "case_status", "confidence": 1.0}
    assert empty.get("intent_ranking") == diet


def test_without_a_trained_model_diet_reading_is_kept(tmp_path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    component = LinearIntentBlend.load({}, storage, Resource("never_trained"), context)
    diet = [{"name": "report_fault", "confidence": 0.5}, {"name": "case_status", "confidence": 0.5}]
    (message,) = component.process([_message("the printer is jammed", diet)])
    assert message.get("intent_ranking") == diet


def test_the_reading_is_the_classifier_s_own_probabilities(trained):
    *_, component = trained
    from scipy.sparse import hstack

    model = component._model
    for text in ("le copieur fait un bruit bizarre", "order two black toners please", "CS0032411 ?"):
        norm = [normalised(text)]
        features = hstack([model["words"].transform(norm), model["chars"].transform(norm)]).tocsr()
        expected = dict(zip(model["classifier"].classes_, model["classifier"].predict_proba(features)[0]))
        assert component.linear_reading(text) == pytest.approx(expected)
