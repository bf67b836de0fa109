"""Knowledge questions ("comment remplacer le toner ?"): the best articles, no case opened."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendError, BackendRejected, public_backend_url
from actions.session import backend, language, report_backend_error
from actions.text import escape_markdown, shortened


# Below this cosine an article is not about the question (measured: an off-topic question's best hit ≈ 0.15, a
# how-to with its own article ≥ 0.6). A fault article answers a question only when it is clearly about it.
ANSWER_MIN_SIMILARITY = 0.35
FAULT_ARTICLE_MIN_SIMILARITY = 0.55


def answering(articles: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The articles that answer a question: relevant enough, and a fault's article only when clearly about it."""
    kept = []
    for article in articles:
        similarity = float(article.get("similarity", 1.0))
        is_fault = any(str(tag).startswith("fault.") for tag in article.get("tags") or [])
        if similarity >= (FAULT_ARTICLE_MIN_SIMILARITY if is_fault else ANSWER_MIN_SIMILARITY):
            kept.append(article)
    return kept


def utter_articles(dispatcher: CollectingDispatcher, articles: List[Dict[str, Any]]) -> None:
    """One message per article: the text (title, number, summary, link) for every medium, and the same fields as
    data (`{"article": ...}`) for the adapters that show a card (bot/channels/render.py)."""
    for article in articles:
        card = {"title": article["title"], "number": article["number"], "summary": article["summary"],
                "url": f"{public_backend_url()}{article['url']}"}
        dispatcher.utter_message(response="utter_kb_article", json_message={"article": card}, **card)



QUERY_SHOWN_CHARS = 80


class ActionSearchKnowledge(Action):
    def name(self) -> Text:
        return "action_search_knowledge"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List[EventType]:
        query = ((tracker.latest_message or {}).get("text") or "").strip()
        if query.startswith("/"):  # a button (e.g. the fallback's suggestion): search what the user typed before
            query = next((e["text"].strip() for e in reversed(tracker.events)
                          if e.get("event") == "user" and e.get("text") and not e["text"].startswith("/")), "")
        client = backend(tracker)
        try:
            # The user's only device, when there is exactly one, makes its model's articles come first
            # (the backend knows which: one call instead of listing the devices first).
            articles = await client.search_knowledge(query, language(tracker), my_device=True)
        except BackendRejected as error:  # e.g. a query too short: the backend's message says why
            dispatcher.utter_message(text=error.message)
            return []
        except BackendError as error:
            report_backend_error(dispatcher, error)
            return []
        articles = answering(articles)
        if not articles:  # honest: no article, and a person can answer
            dispatcher.utter_message(response="utter_kb_search_nothing",
                                     query=escape_markdown(shortened(query, QUERY_SHOWN_CHARS)))
            return []
        dispatcher.utter_message(response="utter_kb_search_intro")
        utter_articles(dispatcher, articles)
        dispatcher.utter_message(response="utter_kb_search_followup")
        return []
