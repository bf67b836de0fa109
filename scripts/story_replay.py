"""The Rasa test stories with the model's own NLU in the loop.

`rasa test core` takes each story's intents as written, so it checks the dialogue policies only. This first runs
Rasa's end-to-end evaluation (`--e2e`: every user text goes through the trained NLU model and its intent and
entities are compared with the story's), then replays the stories where the model read a message differently,
with the intents it actually predicted, and checks that every action is still the one the story expects. A form
answer read as another intent is harmless when the form takes it all the same; a message that sends the
conversation elsewhere (a fallback, another form, a retry refused) is a failure.

The language tagger's `written_language` entity (bot/language.py) is left out of the comparison: the stories do
not annotate it.

Usage, in the Rasa venv from the project root:
    python scripts/story_replay.py [--model models/portal.tar.gz] [--stories tests/rasa/stories] [--out DIR]
Prints the messages read differently and exits 1 if a replayed story does not hold.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
# What Rasa writes in failed_test_stories.yml for a user message read differently in end-to-end mode
MISREAD = re.compile(r"^(\s*- intent: )(\w+)\s+# predicted: (\w+): (.*)$")
PREDICTED_COMMENT = re.compile(r"\s+# predicted:.*$")
IGNORED_ENTITIES = {"written_language"}
sys.path.insert(0, str(ROOT))  # the model's custom components (bot.language)


def _ignore_language_tag() -> None:
    import rasa.core.test as rasa_test

    original = rasa_test._collect_user_uttered_predictions

    def compare(event: Any, predicted: Dict[str, Any], partial_tracker: Any, fail_on_prediction_errors: bool) -> Any:
        predicted = dict(predicted)
        predicted["entities"] = [e for e in predicted.get("entities") or [] if e.get("entity") not in IGNORED_ENTITIES]
        return original(event, predicted, partial_tracker, fail_on_prediction_errors)

    rasa_test._collect_user_uttered_predictions = compare


def replay_stories(failed_stories: str) -> Tuple[str, List[Tuple[str, str, str]]]:
    """Rasa's failed end-to-end stories rewritten with the predicted intents, and the (expected, predicted, text)
    of each message read as another intent."""
    misread: List[Tuple[str, str, str]] = []
    lines = []
    for line in failed_stories.splitlines():
        match = MISREAD.match(line)
        if match:
            expected, predicted, text = match.group(2), match.group(3), match.group(4)
            if predicted != expected:
                misread.append((expected, predicted, text))
            line = match.group(1) + predicted
        lines.append(PREDICTED_COMMENT.sub("", line))
    return "\n".join(lines) + "\n", misread


async def run(model: Path, stories: Path, out: Path) -> int:
    from rasa.core.agent import Agent
    from rasa.core.test import test
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    _ignore_language_tag()
    agent = Agent.load(model_path=str(model))
    e2e_out = out / "e2e"
    e2e_out.mkdir(parents=True, exist_ok=True)
    e2e = await test(str(stories), agent, out_directory=str(e2e_out), e2e=True, disable_plotting=True)
    conversations = e2e["report"].get("conversation_accuracy", {})
    failed = (e2e_out / "failed_test_stories.yml").read_text(encoding="utf-8")
    replay, misread = replay_stories(failed)
    print(f"end to end: {conversations.get('correct', 0)}/{conversations.get('total', 0)} stories read exactly as "
          f"written; {len(misread)} message(s) read as another intent:")
    for expected, predicted, text in misread:
        print(f"  {expected} -> {predicted}: {text}")
    if "story:" not in replay:
        print("nothing to replay")
        return 0
    replay_dir = out / "replay"
    replay_dir.mkdir(parents=True, exist_ok=True)
    (replay_dir / "test_replay.yml").write_text(replay, encoding="utf-8")  # Rasa reads test stories from test_*
    replay_out = out / "replay_results"
    replay_out.mkdir(parents=True, exist_ok=True)
    result = await test(str(replay_dir), agent, out_directory=str(replay_out), disable_plotting=True)
    wrong = [a for a in result["actions"] if a["action"] != a["predicted"]]
    replayed = result["report"].get("conversation_accuracy", {})
    print(f"replayed with the predicted intents: {replayed.get('correct', 0)}/{replayed.get('total', 0)} stories "
          f"hold; {len(wrong)} action(s) differ")
    for action in wrong:
        print(f"  expected {action['action']}, predicted {action['predicted']} ({action['policy']})")
    if wrong:
        print((replay_out / "failed_test_stories.yml").read_text(encoding="utf-8")[-6000:])
    return 1 if wrong else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "portal.tar.gz")
    parser.add_argument("--stories", type=Path, default=ROOT / "tests" / "rasa" / "stories")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "story_replay")
    args = parser.parse_args()
    return asyncio.run(run(args.model, args.stories, args.out))


if __name__ == "__main__":
    sys.exit(main())
