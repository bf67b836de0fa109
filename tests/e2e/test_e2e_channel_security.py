"""End to end: the channel layer as an attacker would try it, against the running stack. Conversations are bound
to the verified user, revoked access stops at the next message, and the edge refuses what it must before NLU."""
from __future__ import annotations

import re
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import socketio

from conftest import ADMIN, USER, Stack

OTHER_ADMIN = "admin@northwind-imprimerie.fr"  # another account
LOGIN_EN = "Please log in to the portal to chat with the assistant."


class Browser:
    """A socket.io client as the widget uses it (websocket only)."""

    def __init__(self, stack: Stack, token: str | None, origin: str | None = None) -> None:
        self.received: list[tuple[str, object]] = []
        self.turn_ended = threading.Event()
        self.confirmed = threading.Event()
        # websocket-client sends its own Origin (the server's URL) unless told which: a browser sends the page's
        self.client = socketio.Client(reconnection=False,
                                      websocket_extra_options={"origin": origin or stack.backend_url})
        self.session_id: str | None = None
        for event in ("bot_uttered", "history", "login_required"):
            self.client.on(event, lambda data, event=event: self.received.append((event, data)))
        self.client.on("turn_end", lambda data: self.turn_ended.set())
        self.client.on("session_confirm", self._confirm)
        self.error: str | None = None
        try:
            self.client.connect(stack.rasa_url, transports=["websocket"], socketio_path="/socket.io",
                                auth={"token": token} if token else None, wait_timeout=10)
        except socketio.exceptions.ConnectionError as exc:
            self.error = str(exc)

    def _confirm(self, data: dict) -> None:
        self.session_id = data["session_id"]
        self.confirmed.set()

    def open(self, session_id: str) -> str:
        self.confirmed.clear()
        self.client.emit("session_request", {"session_id": session_id})
        assert self.confirmed.wait(10)
        return self.session_id

    def say(self, text: str, token: str, session_id: str | None = None, wait: bool = True) -> None:
        self.turn_ended.clear()
        self.client.emit("user_uttered", {"message": text, "session_id": session_id or self.session_id,
                                          "customData": {"token": token}})
        if wait:
            assert self.turn_ended.wait(60), "no turn_end"

    def texts(self) -> str:
        return "\n".join(str(data.get("text", "")) for event, data in self.received
                         if event == "bot_uttered" and isinstance(data, dict))

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


def test_sockets_of_other_users_never_see_a_conversation(stack: Stack):
    victim = Browser(stack, stack.token(USER))
    attacker = Browser(stack, stack.token(OTHER_ADMIN))
    anonymous = Browser(stack, None)
    try:
        assert victim.error is None and attacker.error is None
        assert anonymous.error is not None and not anonymous.client.connected  # refused (reason: unit-tested)
        session = uuid.uuid4().hex
        assert victim.open(session) == session
        assert attacker.open(session) != session  # already bound to another user
        attacker.say("show my devices", stack.token(OTHER_ADMIN), session_id=session, wait=False)  # not its session
        victim.say("show my devices", stack.token(USER))
        assert "WHJ01481" in victim.texts() or "GNM75498" in victim.texts()
        attacker.client.emit("history_request", {"session_id": session})
        time.sleep(1.0)
        assert attacker.received == []  # nothing: no reply, no history of the victim's conversation
        # the victim's conversation is hers only: her history comes back after a reload
        reloaded = Browser(stack, stack.token(USER))
        try:
            reloaded.open(session)
            reloaded.client.emit("history_request", {"session_id": session})
            deadline = time.monotonic() + 10
            while not any(e == "history" for e, _ in reloaded.received) and time.monotonic() < deadline:
                time.sleep(0.1)
            (history,) = [d for e, d in reloaded.received if e == "history"]
            first = history["messages"][0]  # with its id, which the widget uses not to send it again
            assert (first["from"], first["text"]) == ("user", "show my devices") and first.get("id")
        finally:
            reloaded.close()
    finally:
        for browser in (victim, attacker, anonymous):
            browser.close()


def test_a_socket_from_a_foreign_origin_is_refused(stack: Stack):
    foreign = Browser(stack, stack.token(USER), origin="https://evil.example")
    try:
        assert foreign.error is not None
    finally:
        foreign.close()


def invited_user(stack: Stack) -> tuple[str, str]:
    """A new user of the demo account, invited by the admin and set up through the invitation link."""
    email = f"revoked-{uuid.uuid4().hex[:8]}@canon-uk-demo.example"
    created = stack.api(ADMIN, "/users/invitations", method="POST", json={"email": email, "full_name": "Revo Ked"})
    assert created.status_code == 201, created.text
    deadline = time.monotonic() + 10
    token = None
    while token is None and time.monotonic() < deadline:
        found = re.search(rf"invitation link for {re.escape(email)}: \S+token=(\S+)", stack.log_path.read_text())
        token = found.group(1) if found else None
        time.sleep(0.2)
    password = "Revoked-user-2026!"
    accepted = httpx.post(f"{stack.backend_url}/auth/invitations/accept", json={"token": token, "new_password": password})
    assert accepted.status_code == 204, accepted.text
    return email, created.json()["id"]


@pytest.mark.parametrize("revoke", ["deactivation", "password_change"])
def test_revoked_access_stops_the_conversation_at_the_next_message(stack: Stack, revoke):
    email, user_id = invited_user(stack)
    token = httpx.post(f"{stack.backend_url}/auth/token",
                       data={"username": email, "password": "Revoked-user-2026!"}).json()["access_token"]
    sender = uuid.uuid4().hex
    say = lambda text: httpx.post(f"{stack.rasa_url}/webhooks/rest/webhook", timeout=60, json={
        "sender": sender, "message": text, "metadata": {"token": token, "lang": "en"}}).json()
    assert LOGIN_EN not in str(say("hello"))
    if revoke == "deactivation":
        assert stack.api(ADMIN, f"/users/{user_id}/deactivate", method="POST").status_code == 200
    else:
        changed = httpx.post(f"{stack.backend_url}/users/me/password", headers={"Authorization": f"Bearer {token}"},
                             json={"current_password": "Revoked-user-2026!", "new_password": "Another-pass-2026!"})
        assert changed.status_code == 204, changed.text
    assert say("show my cases") == [{"recipient_id": sender, "text": LOGIN_EN}]


def rasa_rss_kb(stack: Stack) -> int:
    return sum(int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))
               for pid, _ in stack.processes()["rasa"])


def test_the_edge_refuses_what_it_must_before_nlu(stack: Stack):
    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    token = stack.token(USER)
    before = rasa_rss_kb(stack)
    too_long = httpx.post(url, json={"sender": "e", "message": "word " * 1000, "metadata": {"token": token}}, timeout=60)
    assert too_long.status_code == 413
    assert too_long.json()[0]["text"].startswith("Your message is too long (over 1000 characters)")
    huge = httpx.post(url, content=b"x" * (100 * 1024 * 1024), headers={"content-type": "application/json"},
                      timeout=60)
    assert huge.status_code == 413
    array = httpx.post(url, json=[{"sender": "e", "message": "hi", "metadata": {"token": token}}], timeout=60)
    assert array.status_code == 400 and array.json()["code"] == "invalid_body"
    preflight = httpx.options(url, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    allowed = httpx.options(url, headers={"Origin": stack.backend_url, "Access-Control-Request-Method": "POST"})
    assert allowed.headers.get("access-control-allow-origin") == stack.backend_url
    assert rasa_rss_kb(stack) - before < 50 * 1024  # well under the body's 100 MB: it never reached memory


def test_no_secret_on_any_command_line(stack: Stack):
    from conftest import TWILIO_AUTH_TOKEN

    secrets = [stack.rasa_api_token, stack.redis_password, TWILIO_AUTH_TOKEN]
    assert all(secrets)
    for service, processes in stack.processes().items():
        for pid, _ in processes:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            assert not any(secret in cmdline for secret in secrets), f"a secret on {service}'s command line"


def test_secrets_and_database_are_readable_by_their_owner_only(tmp_path):
    import subprocess

    script = Path(__file__).resolve().parents[2] / "scripts" / "env.sh"
    subprocess.run(["bash", "-c", f"source {script} && touch var/portal.db"], cwd=tmp_path, check=True)
    for name in ("rasa_api_token", "redis_password", "assistant.key", "twilio_auth_token", "portal.db"):
        assert (tmp_path / "var" / name).stat().st_mode & 0o077 == 0, name
