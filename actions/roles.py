"""The seed's role table as the assistant uses it: ask the backend what the user may do, and refuse politely
(naming the account's administrators) before starting a conversation the backend would refuse anyway.

The backend remains the only enforcer: these checks only spare the user a form that cannot succeed.
"""
from __future__ import annotations

import logging
from typing import Dict, List, Optional, Set

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendError
from actions.session import backend, language, report_backend_error

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
    return ", ".join(f"{p['full_name']} ({p['email']})" for p in people)


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
