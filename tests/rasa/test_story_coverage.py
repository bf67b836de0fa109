"""Issue 5 proof, the shape of the test conversations: every intent of the catalogue is exercised by a Rasa test
story in French and in English, and every role-guarded request (actions/roles.py ROLE_GUARDS) both as allowed and
as refused, in both languages. (test_rasa_assistant.py checks that the trained model predicts them exactly.)"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Dict, Set, Tuple

import pytest
import yaml

from actions.roles import ROLE_GUARDS
from test_nlu_heldout import CATALOGUE

STORIES = Path(__file__).resolve().parent / "stories"
LANGUAGES = ("FR", "EN")


def _story_facts() -> Tuple[Dict[str, Set[str]], Dict[Tuple[str, bool], Set[str]]]:
    """(intent -> languages of the stories using it, (guarded intent, allowed?) -> languages)."""
    used: Dict[str, Set[str]] = defaultdict(set)
    guarded: Dict[Tuple[str, bool], Set[str]] = defaultdict(set)
    for path in sorted(STORIES.glob("*.yml")):
        for story in yaml.safe_load(path.read_text(encoding="utf-8"))["stories"]:
            lang = story["story"].split()[0]
            assert lang in LANGUAGES, f"{path.name}: story names start with FR or EN: {story['story']!r}"
            steps = story["steps"]
            for index, step in enumerate(steps):
                if "intent" not in step:
                    continue
                used[step["intent"]].add(lang)
                following = steps[index + 1:index + 3]
                if len(following) == 2 and following[0].get("action") == "action_check_role":
                    allowed = following[1]["slot_was_set"][0]["role_allowed"]
                    guarded[(step["intent"], bool(allowed))].add(lang)
    return used, guarded


USED, GUARDED = _story_facts()


@pytest.mark.parametrize("intent", CATALOGUE)
def test_every_intent_has_a_story_in_both_languages(intent):
    assert USED[intent] == set(LANGUAGES), f"{intent}: stories only in {sorted(USED[intent])}"


@pytest.mark.parametrize("intent", sorted(ROLE_GUARDS))
@pytest.mark.parametrize("allowed", [True, False], ids=["allowed", "refused"])
def test_every_guarded_request_is_allowed_and_refused_in_both_languages(intent, allowed):
    assert GUARDED[(intent, allowed)] == set(LANGUAGES), \
        f"{intent} {'allowed' if allowed else 'refused'}: stories only in {sorted(GUARDED[(intent, allowed)])}"
