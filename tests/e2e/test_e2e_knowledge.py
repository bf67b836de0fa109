"""End to end: a how-to question is answered from the knowledge base, in the user's language, no case."""
from __future__ import annotations

import re
import uuid

import httpx

from conftest import ADMIN, USER, Stack


def test_how_to_questions_get_articles_and_no_case(stack: Stack):
    before = len(stack.api(USER, "/cases").json())
    replies = stack.say(uuid.uuid4().hex, "how do I replace the toner cartridge?", USER)
    text = "\n".join(r.get("text", "") for r in replies)
    assert text.startswith("Here is what the knowledge base says:")
    links = re.findall(r"\((http://[^)]+/kb/KB\d{7}\?lang=en)\)", text)
    assert links, text
    assert httpx.get(links[0]).status_code == 200  # the link opens the article
    assert len(stack.api(USER, "/cases").json()) == before

    replies = stack.say(uuid.uuid4().hex, "comment remplacer le toner ?", ADMIN)
    text = "\n".join(r.get("text", "") for r in replies)
    assert text.startswith("Voici ce que dit la base de connaissances")
    assert re.search(r"/kb/KB\d{7}\?lang=fr", text)
