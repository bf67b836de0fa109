"""End to end: real backend, action server and Rasa (started from the Procfile), conversations over the
REST channel, and each outcome checked through the backend API."""
from __future__ import annotations

import re
import uuid

from conftest import ADMIN, USER, Stack

CASE_NUMBER = re.compile(r"\bCS\d{7}\b")


def texts(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def buttons(replies: list[dict]) -> list[str]:
    return [button["title"] for reply in replies for button in reply.get("buttons", [])]


def new_sender() -> str:
    return uuid.uuid4().hex


def case_count(stack: Stack, email: str) -> int:
    return len(stack.api(email, "/cases").json())


def test_message_without_valid_token_gets_login_prompt_only(stack: Stack):
    for metadata in ({}, {"token": "not-a-token"}, {"token": "x", "portal_user": {"id": 1, "role": "admin"}}):
        replies = stack.say(new_sender(), "je veux signaler une panne sur WHJ01481", metadata=metadata)
        assert len(replies) == 1
        assert "connecter" in replies[0]["text"] and "log in" in replies[0]["text"]
        assert "WHJ01481" not in texts(replies) and not buttons(replies)


def test_french_admin_reports_a_fault_and_gets_a_case(stack: Stack):
    sender = new_sender()
    greeting = texts(stack.say(sender, "bonjour", ADMIN))
    assert "Bonjour SNTest DemoPortal" in greeting

    replies = stack.say(sender, "ça sent le brûlé quand j'imprime", ADMIN)
    assert "Quel appareil est concerné" in texts(replies)  # the admin sees three devices: asked which
    assert any("WHJ01481" in title for title in buttons(replies))

    replies = stack.say(sender, "c'est la WHJ01481", ADMIN)
    assert "Copieur 2e étage" in texts(replies)
    # the words name the type clearly: taken without a question, shown with its articles and changeable there
    assert "il s'agit de : Dysfonctionnement ou défaillance › Odeur inhabituelle" in texts(replies)
    assert "L'un des articles ci-dessus vous a-t-il aidé à résoudre votre problème ?" in texts(replies)
    assert buttons(replies) == ["Oui", "Non", "Pas ce type de panne", "Aucun article affiché"]
    articles = re.findall(r"\((KB\d{7})\)", texts(replies))
    assert articles, texts(replies)

    replies = stack.say(sender, "non", ADMIN)
    summary = texts(replies)
    assert "Je vais ouvrir ce dossier" in summary and "WHJ01481" in summary and "brûlé" in summary

    replies = stack.say(sender, "oui", ADMIN)
    match = CASE_NUMBER.search(texts(replies))
    assert match, texts(replies)

    case = stack.api(ADMIN, f"/cases/{match.group()}").json()
    assert (case["category"], case["subcategory"]) == ("malfunction", "unusual_smell")
    assert case["asset"]["asset_number"] == "77996101"
    assert case["requester"]["email"] == ADMIN
    assert case["channel"] == "rest"
    assert case["kb_feedback"] == "no"
    assert case["kb_articles_shown"] == articles
    assert "brûlé" in case["description"]


def test_english_user_with_one_device_reports_a_jam(stack: Stack):
    sender = new_sender()
    replies = stack.say(sender, "the copier keeps jamming in tray 2", USER)
    reply_text = texts(replies)
    assert "Which device" not in reply_text  # exactly one device: never asked
    assert "GNM75498" in reply_text
    assert "this is: Paper jam › In the drawer or tray." in reply_text  # taken from the words, no question
    assert "Did any of the articles above help you solve your problem?" in reply_text
    replies = stack.say(sender, "no", USER)
    assert "I'm about to open this case" in texts(replies)
    replies = stack.say(sender, "yes", USER)
    match = CASE_NUMBER.search(texts(replies))
    assert match, texts(replies)

    case = stack.api(USER, f"/cases/{match.group()}").json()
    assert (case["category"], case["subcategory"]) == ("paper_jam", "drawer_tray")
    assert case["asset"]["asset_number"] == "53463252"
    assert case["requester"]["email"] == USER
    # The other account never sees it.
    other = stack.api(ADMIN, f"/cases/{match.group()}")
    assert other.status_code == 200  # same account's administrator does
    assert stack.tokens  # sanity: tokens were issued by the backend


def test_article_that_helped_opens_no_case(stack: Stack):
    before = case_count(stack, USER)
    sender = new_sender()
    replies = stack.say(sender, "there are streaks on every page I print", USER)
    if "Is that right?" in texts(replies):  # a doubtful type is proposed first
        replies = stack.say(sender, "yes", USER)
    assert "Did any of the articles above help" in texts(replies)
    replies = stack.say(sender, "yes", USER)
    assert "No case was opened" in texts(replies)
    assert case_count(stack, USER) == before


def test_unknown_device_is_refused_and_cancel_writes_nothing(stack: Stack):
    before = case_count(stack, ADMIN)
    sender = new_sender()
    stack.say(sender, "je veux signaler une panne", ADMIN)
    replies = stack.say(sender, "c'est la XKL55120", ADMIN)  # a device of another account
    assert "Je ne trouve pas l'appareil « XKL55120 »" in texts(replies)
    assert "Quel appareil est concerné" in texts(replies)
    replies = stack.say(sender, "annuler", ADMIN)
    assert "Rien n'a été enregistré" in texts(replies)
    assert case_count(stack, ADMIN) == before


def test_another_user_cannot_continue_someone_elses_conversation(stack: Stack):
    sender = "shared-" + new_sender()
    stack.say(sender, "bourrage papier dans le tiroir 2", ADMIN)
    stack.say(sender, "WHJ01481", ADMIN)
    # Same `sender` value, another user's token: a different conversation, nothing of the admin's report.
    replies = stack.say(sender, "yes", USER)
    reply_text = texts(replies)
    assert "WHJ01481" not in reply_text and "Copieur 2e étage" not in reply_text
    assert not CASE_NUMBER.search(reply_text)


def test_a_question_about_the_devices_contract_is_answered_inside_the_fault_report(stack: Stack):
    """Asked in the middle of a fault report, a device's contract end is answered from the portal's data, then the
    report goes on where it was; nothing is dropped."""
    sender = new_sender()
    replies = stack.say(sender, "la machine de l'accueil fait un bruit de ferraille", ADMIN)
    assert "Canon iR-ADV C5030i (53463252 / GNM75498)" in texts(replies)
    replies = stack.say(sender, "au fait, elle est sous contrat jusqu'à quand celle-là ?", ADMIN)
    answer = texts(replies)
    assert "CTR-GB-0045813" in answer and "30/06/2027" in answer, answer
    assert "Nous sommes en train de traiter" not in answer  # no switch offered: the question is answered
    assert "L'un des articles ci-dessus vous a-t-il aidé" in answer  # the report asks its question again
    summary = texts(stack.say(sender, "non", ADMIN))
    assert "Je vais ouvrir ce dossier" in summary and "ferraille" in summary, summary


def test_a_fault_asked_as_a_request_becomes_a_fault_case(stack: Stack):
    """"Can you send someone" with a fault's words: a fault case of the right type, not a request."""
    sender = new_sender()
    replies = stack.say(sender, "Could you send someone please? The badge reader on the 1st floor copier has stopped "
                                "working", ADMIN)
    if "/report_fault" in [b["payload"] for reply in replies for b in reply.get("buttons", [])]:
        replies = stack.say(sender, "/report_fault", ADMIN)  # the low-confidence menu: its button keeps the words
    assert "Card reader problem" in texts(replies), texts(replies)
    replies = stack.say(sender, "no", ADMIN)  # the articles did not help: the summary
    assert "I'm about to open this case" in texts(replies), texts(replies)
    done = texts(stack.say(sender, "yes", ADMIN))
    (number,) = set(CASE_NUMBER.findall(done))
    case = stack.api(ADMIN, f"/cases/{number}").json()
    assert (case["category"], case["subcategory"], case["asset"]["serial"]) == ("software", "card_reader", "WHJ02153")
    assert "badge reader" in case["description"]


def test_the_status_of_a_case_told_by_its_subject(stack: Stack):
    replies = stack.say(new_sender(), "any news on my case about the toner that was spilled in the machine?", ADMIN)
    assert "CS0032497" in texts(replies), texts(replies)
