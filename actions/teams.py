"""The user's Microsoft Teams link (bot/channels/teams.py, README "Microsoft Teams"): unlinking it in the chat.

Asked first, done only on "yes" (data/rules/teams.yml):

- in Teams, a linked user is talking through the very link: the question is asked at once;
- in Teams, an unlinked user (the anonymous identity) is told there is nothing to unlink;
- from the web chat or the phone, a verified user's link is looked up first (`GET /teams/links/me`): the question
  when there is one, "nothing is linked" when there is none; an unverified caller is asked to identify
  (`utter_login_required`, which the phone says as "call again with your voice PIN").

The unlink itself is `DELETE /teams/links/me` with the per-call assistant token; the Teams channel checks the link
on every message, so the next Teams message gets the sign-in card.
"""
from __future__ import annotations

import logging
from typing import List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendError, BackendRejected, NotAuthenticated
from actions.session import anonymous_caller, backend, portal_user, report_backend_error

log = logging.getLogger(__name__)

TEAMS_CHANNEL = "teams"  # credentials.yml: the case channel code of bot.channels.teams.TeamsInput
ASKED = "teams_unlink_asked"


def _unlinked_teams_user(tracker: Tracker) -> bool:
    """A Teams user the channel found no link for (it delivers their messages with the anonymous identity)."""
    caller = anonymous_caller(tracker)
    return caller is not None and caller.get("channel") == TEAMS_CHANNEL


def _nobody(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """No verified user: an unlinked Teams user has nothing to unlink; anyone else must identify first."""
    if _unlinked_teams_user(tracker):
        dispatcher.utter_message(response="utter_teams_not_linked_here")
    else:
        dispatcher.utter_message(response="utter_login_required")


class ActionAskUnlinkTeams(Action):
    """Asks whether to unlink the user's Teams account when there is one; says so when there is none."""

    def name(self) -> Text:
        return "action_ask_unlink_teams"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        user = portal_user(tracker)
        if user is None:
            _nobody(dispatcher, tracker)
            return [SlotSet(ASKED, False)]
        if user.get("channel") != TEAMS_CHANNEL:  # in Teams the user is talking through the link itself
            try:
                await backend(tracker).teams_link()
            except BackendRejected as error:
                if error.status == 404:
                    dispatcher.utter_message(response="utter_teams_none_linked")
                else:
                    report_backend_error(dispatcher, error)
                return [SlotSet(ASKED, False)]
            except BackendError as error:
                report_backend_error(dispatcher, error)
                return [SlotSet(ASKED, False)]
        dispatcher.utter_message(response="utter_ask_unlink_teams")
        return [SlotSet(ASKED, True)]


class ActionUnlinkTeams(Action):
    """The user said yes: `DELETE /teams/links/me`."""

    def name(self) -> Text:
        return "action_unlink_teams"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        done = [SlotSet(ASKED, None)]
        if portal_user(tracker) is None:
            _nobody(dispatcher, tracker)
            return done
        try:
            await backend(tracker).unlink_teams()
        except NotAuthenticated as error:
            report_backend_error(dispatcher, error)
            return done
        except BackendRejected as error:
            if error.status == 404:  # unlinked meanwhile (by an administrator, or in another conversation)
                dispatcher.utter_message(response="utter_teams_none_linked")
            else:
                log.warning("Teams not unlinked: %s", error)
                dispatcher.utter_message(response="utter_teams_not_unlinked")
            return done
        except BackendError as error:
            log.warning("Teams not unlinked: %s", error)
            dispatcher.utter_message(response="utter_teams_not_unlinked")
            return done
        dispatcher.utter_message(response="utter_teams_unlinked")
        return done
