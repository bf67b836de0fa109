"""The seed's role table as the assistant uses it: ask the backend what the user may do, and refuse politely
(naming the account's administrators) before starting a conversation the backend would refuse anyway.

The backend remains the only enforcer: these checks only spare the user a form that cannot succeed.
"""
from __future__ import annotations

import logging
from typing import Dict, List, Optional, Set, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendError
from actions.session import backend, language, report_backend_error
from actions.text import escape_markdown

log = logging.getLogger(__name__)


async def my_permissions(tracker: Tracker, dispatcher: Optional[CollectingDispatcher] = None) -> Optional[Dict]:
    """{"role", "permissions": set of codes, "restricted": set of request categories}, or None when the
    portal could not say (the user is then told why, if a dispatcher is given)."""
    try:
        answer = await backend(tracker).permissions()
    except BackendError as error:
        if dispatcher is not None:
            report_backend_error(dispatcher, error)
        return None
    return {"role": answer["role"], "permissions": {p["code"] for p in answer["permissions"]},
            "restricted": set(answer.get("restricted_request_categories") or [])}


async def administrators_text(tracker: Tracker) -> str:
    """"Jane Admin (jane@x.com), ..." — or a generic phrase if the portal cannot list them."""
    try:
        people: List[Dict] = await backend(tracker).administrators()
    except BackendError as error:
        log.warning("administrators unavailable: %s", error)
        people = []
    if not people:
        return "—"
    return ", ".join(f"{escape_markdown(p['full_name'])} ({escape_markdown(p['email'])})" for p in people)


async def refuse_admin_only(dispatcher: CollectingDispatcher, tracker: Tracker, what_fr: str, what_en: str) -> None:
    """"Only an administrator of your account can <what>. Your administrators: ...". `what_*` is a verb
    phrase in each language, e.g. ("inviter un utilisateur", "invite a user")."""
    what = what_en if language(tracker) == "en" else what_fr
    dispatcher.utter_message(response="utter_admin_only", what=what, administrators=await administrators_text(tracker))


async def require_permission(dispatcher: CollectingDispatcher, tracker: Tracker, permission: str,
                             what_fr: str, what_en: str) -> bool:
    """True when the user's role has `permission` (a code of backend/permissions.py); otherwise the polite
    refusal is sent (or the portal error) and False is returned."""
    mine = await my_permissions(tracker, dispatcher)
    if mine is None:
        return False
    if permission in mine["permissions"]:
        return True
    await refuse_admin_only(dispatcher, tracker, what_fr, what_en)
    return False


async def restricted_categories(tracker: Tracker) -> Set[str]:
    """Request categories the user's role may not submit (the seed's asterisk), empty if unknown."""
    mine = await my_permissions(tracker)
    return mine["restricted"] if mine else set()


# What each admin-only intent needs: any of these permissions, or a request category the role may submit.
# (verb phrase FR, verb phrase EN) completes "only an administrator of your account can ...".
ROLE_GUARDS: Dict[str, Dict] = {
    "list_users": {"any": ("approve_access_requests", "invite_users", "upgrade_users", "deactivate_users",
                           "reset_passwords"),
                   "what": ("consulter la liste des utilisateurs", "see the list of users")},
    "invite_user": {"any": ("invite_users",), "what": ("inviter un utilisateur", "invite a user")},
    "approve_access_request": {"any": ("approve_access_requests",),
                               "what": ("approuver une demande d'accès", "approve an access request")},
    "upgrade_user": {"any": ("upgrade_users",),
                     "what": ("nommer un administrateur", "make a user an administrator")},
    "deactivate_user": {"any": ("deactivate_users",), "what": ("désactiver un utilisateur", "deactivate a user")},
    "reset_user_password": {"any": ("reset_passwords",),
                            "what": ("réinitialiser le mot de passe d'un utilisateur", "reset a user's password")},
    "manage_asset_contacts": {"any": ("add_asset_contacts",),
                              "what": ("gérer les contacts d'un appareil", "manage the contacts of a device")},
    "contract_question": {"category": "contract_question",
                          "what": ("soumettre une demande sur le contrat", "submit a contract request")},
    "invoice_question": {"category": "invoice_question",
                         "what": ("soumettre une question sur une facture", "submit an invoice question")},
    "product_move": {"category": "product_move",
                     "what": ("demander le déplacement d'un appareil", "request a device move")},
}


class ActionCheckRole(Action):
    """Runs before every admin-only conversation (rules: intent → action_check_role → role_allowed true →
    the form; role_allowed false → the polite refusal, naming the administrators, was already sent)."""

    def name(self) -> Text:
        return "action_check_role"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name") or ""
        return [SlotSet("role_allowed", await intent_allowed(dispatcher, tracker, intent))]


async def intent_allowed(dispatcher: CollectingDispatcher, tracker: Tracker, intent: str) -> bool:
    """Whether the user's role may do what `intent` asks; if not, the polite refusal (or the portal's
    error) has been sent."""
    guard = ROLE_GUARDS.get(intent)
    if guard is None:
        return True
    mine = await my_permissions(tracker, dispatcher)
    if mine is None:  # the portal could not say: the user was told why
        return False
    if "category" in guard:
        allowed = guard["category"] not in mine["restricted"]
    else:
        allowed = bool(set(guard["any"]) & mine["permissions"])
    if not allowed:
        await refuse_admin_only(dispatcher, tracker, *guard["what"])
    return allowed
