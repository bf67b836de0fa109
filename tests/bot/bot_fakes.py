"""Test helpers for the input-channel tests: a fake portal GET /users/me, an on_new_message recorder and an
adapter mounted in a real Sanic app (`channel_app`; needs `Sanic.test_mode`)."""
from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any, AsyncIterator, Dict, List, Optional, Union

import httpx
from rasa.core.channels.channel import InputChannel
from sanic import Sanic

BACKEND = "http://portal.test"


def user_out(user_id: int = 2, language: str = "en") -> Dict[str, Any]:
    """A GET /users/me body shaped like the backend's UserOut."""
    return {
        "id": user_id, "email": "sntestdm@canon-uk-demo.example", "full_name": "SNTestDM DemoPortal",
        "phone": "+44 20 7946 0002", "role": "user", "status": "active", "language": language,
        "email_notifications": True, "token_version": 0,
        "account": {"id": 1, "name": "CANON UK DEMO", "street": "4 Roundwood Avenue", "city": "Uxbridge",
                    "postcode": "UB11 1AF", "country": "Royaume-Uni"},
    }


class FakeUsersBackend:
    """Answers GET /users/me for the tokens in `users`; 401 otherwise. `state` = None | "down" | status code."""

    def __init__(self) -> None:
        self.users: Dict[str, Dict[str, Any]] = {"good-token": user_out()}
        self.state: Union[None, str, int] = None
        self.requests: List[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.state == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if isinstance(self.state, int):
            return httpx.Response(self.state, json={"code": "error", "message": "boom"})
        if request.url.path != "/users/me":
            return httpx.Response(404, json={"code": "not_found", "message": "Resource not found."})
        auth = request.headers.get("authorization", "")
        user = self.users.get(auth[len("Bearer "):]) if auth.startswith("Bearer ") else None
        if user is None:
            return httpx.Response(401, json={"code": "not_authenticated", "message": "Please log in to the portal."})
        return httpx.Response(200, json=user)


class Recorder:
    """Stands for Rasa's `on_new_message`: records the messages that reached the assistant."""

    def __init__(self, reply: Optional[str] = None) -> None:
        self.messages: List[Any] = []
        self.reply = reply

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)
        if self.reply is not None:
            await message.output_channel.send_text_message(message.sender_id, self.reply)


@contextlib.asynccontextmanager
async def channel_app(channel: InputChannel, on_new_message: Any, agent: Any = None) -> AsyncIterator[httpx.AsyncClient]:
    """An adapter's blueprint mounted as Rasa mounts it (/webhooks/<name>), driven through ASGI (startup/shutdown
    lifespan included); `agent` stands for the Rasa agent the server keeps in `app.ctx.agent`."""
    app = Sanic(f"{channel.name()}_test_{uuid.uuid4().hex[:8]}")
    app.ctx.agent = agent
    app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{channel.name()}")
    lifespan_in: asyncio.Queue = asyncio.Queue()
    lifespan_out: asyncio.Queue = asyncio.Queue()
    await lifespan_in.put({"type": "lifespan.startup"})
    task = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}}, lifespan_in.get,
                                     lifespan_out.put))
    assert (await asyncio.wait_for(lifespan_out.get(), 10))["type"] == "lifespan.startup.complete"
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rasa") as client:
            yield client
    finally:
        await lifespan_in.put({"type": "lifespan.shutdown"})
        assert (await asyncio.wait_for(lifespan_out.get(), 10))["type"] == "lifespan.shutdown.complete"
        # Sanic 21.12 then treats the finished lifespan scope as a request and fails: nothing left to check.
        with contextlib.suppress(AttributeError):
            await asyncio.wait_for(task, 10)
