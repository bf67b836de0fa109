"""One bot message as Microsoft Teams shows it: a markdown message, or an Adaptive Card when it has buttons or an
article.

Made from the same parts the web adapters send (`render.web_message`), so every medium renders the same responses:

- buttons → an Adaptive Card with one `Action.Submit` per button, whose `data` carries the button's payload (Teams
  ignores `postBack` and suggested actions in group chats); a click comes back as a message activity whose `value`
  is that data (`submitted_payload`). Buttons with a URL → `Action.OpenUrl`.
- a summary to confirm (buttons answering `/affirm` and `/deny` under "Label: value" lines) → a card whose
  lines are a FactSet, with the confirm button styled positive and the cancel button destructive.
- a knowledge article → a card with its title, number, summary and an "open the article" button.
- text → Teams markdown (single line breaks kept as breaks).
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from bot.channels.render import ARTICLE_KEY, web_message

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# The highest Adaptive Card schema version every Teams client (desktop, web, mobile) renders.
CARD_VERSION = "1.5"
PAYLOAD_KEY = "payload"  # the key of a button's payload in an Action.Submit's data
MAX_PAYLOAD_CHARS = 1000

OPEN_ARTICLE = {"fr": "Ouvrir l'article", "en": "Open the article"}

_FACT = re.compile(r"^\s*(?:[-•*]\s*)?\**([^:*\n]{1,40}?)\**\s*:\s*(.+?)\s*$")
_MD_LINE_BREAK = re.compile(r"(?<!\n)\n(?!\n)")


def teams_markdown(text: str) -> str:
    """Teams joins lines separated by a single line break; list items and paragraphs keep theirs."""
    lines = text.split("\n")
    out: List[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i < len(lines) - 1:
            nxt = lines[i + 1].lstrip()
            list_item = nxt[:2] in ("- ", "* ", "• ") or bool(re.match(r"\d+[.)] ", nxt))
            out.append("\n" if list_item or not line.strip() or not nxt else "\n\n")
    return "".join(out)


def _text_block(text: str, **extra: Any) -> Dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def _is_confirmation(buttons: List[Dict[str, Any]]) -> bool:
    payloads = {b["payload"] for b in buttons}
    return "/affirm" in payloads and "/deny" in payloads


def _facts(text: str) -> Tuple[List[str], List[Dict[str, str]]]:
    """A summary's "Label: value" lines as facts, the other lines as text (facts need two or more lines)."""
    lines, facts = [], []
    for line in text.split("\n"):
        match = _FACT.match(line)
        if match and not match.group(2).startswith("//"):
            facts.append({"title": match.group(1).strip(), "value": match.group(2)})
            lines.append("\0")
        else:
            lines.append(line)
    if len(facts) < 2:
        return text.split("\n"), []
    return lines, facts


def _actions(buttons: List[Dict[str, Any]], confirmation: bool) -> List[Dict[str, Any]]:
    actions = []
    for button in buttons:
        if button.get("url"):
            actions.append({"type": "Action.OpenUrl", "title": button["title"], "url": button["url"]})
            continue
        action = {"type": "Action.Submit", "title": button["title"], "data": {PAYLOAD_KEY: button["payload"]}}
        if confirmation and button["payload"] == "/affirm":
            action["style"] = "positive"
        elif confirmation and button["payload"] == "/deny":
            action["style"] = "destructive"
        actions.append(action)
    return actions


def _card(body: List[Dict[str, Any]], actions: List[Dict[str, Any]]) -> Dict[str, Any]:
    card: Dict[str, Any] = {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                            "version": CARD_VERSION, "body": body}
    if actions:
        card["actions"] = actions
    card["msteams"] = {"width": "Full"}
    return {"contentType": CARD_CONTENT_TYPE, "content": card}


def _article_card(article: Dict[str, Any], lang: str) -> Dict[str, Any]:
    body = [_text_block(str(article.get("title") or ""), weight="Bolder", size="Medium")]
    if article.get("number"):
        body.append(_text_block(str(article["number"]), isSubtle=True, spacing="None", size="Small"))
    if article.get("summary"):
        body.append(_text_block(str(article["summary"])))
    actions = []
    if article.get("url"):
        actions.append({"type": "Action.OpenUrl", "title": OPEN_ARTICLE.get(lang, OPEN_ARTICLE["en"]),
                        "url": str(article["url"])})
    return _card(body, actions)


def teams_activities(message: Dict[str, Any], lang: str) -> List[Dict[str, Any]]:
    """The message activities (without addressing) that show one bot message in Teams; empty: nothing to show."""
    parts = web_message(message)
    text, buttons, article = parts.get("text"), parts.get("buttons") or [], parts.get(ARTICLE_KEY)
    if article:
        # the article's own fields make the card; the text repeats them for the web, so only buttons follow it
        out = [{"type": "message", "attachments": [_article_card(article, lang)]}]
        if buttons:
            out.append({"type": "message", "attachments": [_card([], _actions(buttons, False))]})
        return out
    if buttons:
        # a summary to confirm: yes/no buttons under "Label: value" lines (not a bare yes/no question)
        lines, facts = _facts(text or "") if _is_confirmation(buttons) else ((text or "").split("\n"), [])
        confirmation = bool(facts)
        body: List[Dict[str, Any]] = []
        if text:
            chunk: List[str] = []
            for line in lines + ["\0"]:
                if line != "\0":
                    chunk.append(line)
                    continue
                if any(c.strip() for c in chunk):
                    body.append(_text_block(teams_markdown("\n".join(chunk).strip("\n"))))
                chunk = []
                if facts and not any(b["type"] == "FactSet" for b in body):
                    body.append({"type": "FactSet", "facts": facts})
        return [{"type": "message", "attachments": [_card(body, _actions(buttons, confirmation))]}]
    if text:
        return [{"type": "message", "text": teams_markdown(text), "textFormat": "markdown"}]
    if parts.get("image"):
        return [{"type": "message", "attachments": [_card([{"type": "Image", "url": str(parts["image"])}], [])]}]
    return []


def sign_in_card(text: str, button: str, url: str) -> Dict[str, Any]:
    """The card an unlinked Teams user gets: why, and the button to the portal page that links them."""
    return _card([_text_block(text)], [{"type": "Action.OpenUrl", "title": button, "url": url}])


def submitted_payload(value: Any) -> Optional[str]:
    """The payload of a card button the user clicked (a message activity's `value`), None if it carries none."""
    if isinstance(value, dict):
        payload = value.get(PAYLOAD_KEY)
        if isinstance(payload, str) and payload.strip() and len(payload) <= MAX_PAYLOAD_CHARS:
            return payload
    return None
