"""One bot message as the web adapters send it: text, buttons, an article card, an image or attachment together.

Rasa's output channels send a message's parts one by one (text, then its custom payload as a second message);
the web widget and REST clients get them as one object instead, so an article is one card.
"""
from __future__ import annotations

from typing import Any, Dict, List

ARTICLE_KEY = "article"  # actions/knowledge.py: {"article": {title, number, summary, url}} in the custom payload


def buttons(message: Dict[str, Any]) -> List[Dict[str, Any]]:
    out = []
    for button in (message.get("buttons") or []) + (message.get("quick_replies") or []):
        if isinstance(button, dict) and button.get("title"):
            item = {"title": str(button["title"]), "payload": str(button.get("payload") or button["title"])}
            if button.get("url"):
                item["url"] = str(button["url"])
            out.append(item)
    return out


def web_message(message: Dict[str, Any]) -> Dict[str, Any]:
    """The parts of a bot message a web client renders (empty dict: nothing to show)."""
    out: Dict[str, Any] = {}
    if message.get("text"):
        out["text"] = str(message["text"])
    found = buttons(message)
    if found:
        out["buttons"] = found
    custom = message.get("custom")
    if isinstance(custom, dict) and isinstance(custom.get(ARTICLE_KEY), dict):
        out[ARTICLE_KEY] = custom[ARTICLE_KEY]
    elif custom:
        out["custom"] = custom
    for key in ("image", "attachment"):
        if message.get(key):
            out[key] = message[key]
    return out
