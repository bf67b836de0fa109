"""Knowledge questions ("comment remplacer le toner ?"): the best articles, no case opened."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendError, BackendRejected, public_backend_url
from actions.session import backend, language, report_backend_error


def utter_articles(dispatcher: CollectingDispatcher, articles: List[Dict[str, Any]]) -> None:
    """One message per article: the text (title, number, summary, link) for every medium, and the same fields as
    data (`{"article": ...}`) for the adapters that show a card (bot/channels/render.py)."""
    for article in articles:
        card = {"title": article["title"], "number": article["number"], "summary": article["summary"],
                "url": f"{public_backend_url()}{article['url']}"}
        dispatcher.utter_message(response="utter_kb_article", json_message={"article": card}, **card)


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
        if not articles:
            dispatcher.utter_message(response="utter_kb_search_nothing", query=query[:80])
            return []
        dispatcher.utter_message(response="utter_kb_search_intro")
        utter_articles(dispatcher, articles)
        dispatcher.utter_message(response="utter_kb_search_followup")
        return []
