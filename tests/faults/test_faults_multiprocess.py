"""Issue 19: the production profile's processes on one machine (two Rasa processes, two action servers, two
backends behind HAProxy round robin per request, PostgreSQL + Redis), a scripted meter-reading form, and the
faults it must survive with nothing lost and nothing written twice. Each outcome is read in PostgreSQL itself.

The tests run in this order on one cluster; the last one kills a Rasa process for good."""
from __future__ import annotations

import threading
import time
import uuid
from typing import Optional

from conftest import DEVICE, METER_CODE, USER, Cluster

RETRY = "send it again"           # bot/identity.py turn_failed (en)
PORTAL_DOWN = "not responding"    # portal_unavailable (edge) and utter_submit_failed (action server)


def texts(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


class MeterForm:
    """The demo user's meter readings, meter by meter, each value above the last recorded one."""

    def __init__(self, cluster: Cluster, step: int) -> None:
        self.cluster, self.sender = cluster, uuid.uuid4().hex
        meters = {m["code"]: m for m in cluster.api(USER, f"/assets/{DEVICE}/meters").json()}
        self.wanted = {code: (m["last_reading"] or 0) + step for code, m in meters.items()}
        self.answered: list[str] = []
        self.served: list[str] = []
        self.replies: list[dict] = []

    def say(self, text: str, message_id: Optional[str] = None) -> list[dict]:
        fields = {"message_id": message_id} if message_id else {}
        self.replies, replica = self.cluster.say_served(self.sender, text, USER, **fields)
        self.served.append(replica)
        return self.replies

    def asked(self) -> str:
        """The meter the bot's last message asks for."""
        found = METER_CODE.findall(self.replies[-1].get("text", "")) if self.replies else []
        return found[-1] if found else ""

    def open(self) -> None:
        self.say("I'd like to enter my meter readings")
        assert self.asked() in self.wanted, texts(self.replies)

    def answer_one(self) -> str:
        code = self.asked()
        assert code in self.wanted and code not in self.answered, texts(self.replies)
        self.say(str(self.wanted[code]))
        self.answered.append(code)
        return code

    def answer_all(self) -> None:
        while len(self.answered) < len(self.wanted):
            self.answer_one()
        assert "submit" in texts(self.replies).lower(), texts(self.replies)  # the summary to confirm

    def stored(self) -> dict[str, int]:
        """How many times each wanted value is stored for its meter, in PostgreSQL."""
        rows = self.cluster.portal_rows(
            "SELECT m.code, count(*) FROM meter_readings r JOIN meters m ON m.id = r.meter_id "
            "JOIN assets a ON a.id = m.asset_id WHERE a.asset_number = %s AND ("
            + " OR ".join("(m.code = %s AND r.value = %s)" for _ in self.wanted) + ") GROUP BY m.code",
            DEVICE, *[x for code, value in self.wanted.items() for x in (code, value)])
        return {code: 0 for code in self.wanted} | dict(rows)

    def assert_stored_once(self) -> None:
        assert self.stored() == {code: 1 for code in self.wanted}, texts(self.replies)
        submissions = self.cluster.portal_rows(
            "SELECT count(DISTINCT r.submission_id) FROM meter_readings r JOIN meters m ON m.id = r.meter_id "
            "JOIN assets a ON a.id = m.asset_id WHERE a.asset_number = %s AND m.code = %s AND r.value = %s",
            DEVICE, "112", self.wanted["112"])
        assert submissions == [(1,)]


def test_a_form_conversation_alternates_rasa_replicas_turn_by_turn_and_completes(cluster: Cluster):
    form = MeterForm(cluster, 101)
    form.open()
    form.answer_all()
    done = texts(form.say("yes"))
    assert "recorded" in done, done
    # HAProxy balanced every request on its own: consecutive turns went to the two Rasa processes in turn
    assert set(form.served) == {"rasa-1", "rasa-2"}, form.served
    assert all(a != b for a, b in zip(form.served, form.served[1:])), form.served
    form.assert_stored_once()
    # and the backends too (the portal API through the balancer)
    served = {cluster.api(USER, "/users/me").headers["x-served-by"] for _ in range(4)}
    assert served == {"backend-1", "backend-2"}


def test_the_same_channel_message_delivered_twice_is_taken_once(cluster: Cluster):
    form = MeterForm(cluster, 202)
    form.open()
    code = form.asked()
    first = form.say(str(form.wanted[code]), message_id="answer-1")
    again = form.say(str(form.wanted[code]), message_id="answer-1")  # the client's retry: same id
    assert again == first
    form.answered.append(code)
    assert form.asked() not in form.answered  # the form moved on once, not twice
    form.answer_all()
    # "yes" delivered twice at the same time (a client that retried before the first answer came back)
    answers: list[list[dict]] = []
    threads = [threading.Thread(target=lambda: answers.append(form.say("yes", message_id="confirm-1")))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers[0] == answers[1] and "recorded" in texts(answers[0]), answers
    form.say("yes", message_id="confirm-1")  # and once more, later
    form.assert_stored_once()


def test_backends_down_at_the_confirmation_keep_the_form_and_the_retry_submits_once(cluster: Cluster):
    form = MeterForm(cluster, 303)
    form.open()
    form.answer_all()  # the last two turns went to both Rasa processes: each has the user's token checked
    for name in cluster.replicas("backend"):
        cluster.kill(name)
    told = texts(form.say("yes"))
    assert PORTAL_DOWN in told and "kept" in told, told  # utter_submit_failed: nothing sent, answers kept
    assert form.stored() == {code: 0 for code in form.wanted}
    for name in cluster.replicas("backend"):
        cluster.start(name)
    cluster.wait_balanced("backend")
    done = texts(form.say("yes"))  # "try again": the same answers, the same idempotency key
    assert "recorded" in done, done
    form.assert_stored_once()


def test_backends_down_before_the_token_is_checked_the_user_is_told_and_the_form_kept(cluster: Cluster):
    form = MeterForm(cluster, 404)
    form.open()
    form.answer_all()
    time.sleep(21)  # past IDENTITY_CACHE_SECONDS: the token must be checked with the backend again
    for name in cluster.replicas("backend"):
        cluster.kill(name)
    told = texts(form.say("yes"))
    assert PORTAL_DOWN in told, told  # the edge: the message never reached the assistant
    for name in cluster.replicas("backend"):
        cluster.start(name)
    cluster.wait_balanced("backend")
    assert "recorded" in texts(form.say("yes")), texts(form.replies)  # the form was kept at its summary
    form.assert_stored_once()


def test_an_action_server_killed_and_restarted_mid_form_loses_nothing(cluster: Cluster):
    form = MeterForm(cluster, 505)
    form.open()
    form.answer_one()
    cluster.kill("actions-1")  # SIGKILL: HAProxy sends the next calls to actions-2
    form.answer_one()
    cluster.start("actions-1")
    cluster.wait_balanced("actions")
    cluster.kill("actions-2")
    form.answer_all()
    cluster.start("actions-2")
    cluster.wait_balanced("actions")
    assert "recorded" in texts(form.say("yes")), texts(form.replies)
    form.assert_stored_once()


def stored_events(cluster: Cluster, form: MeterForm) -> list[tuple]:
    """The conversation's events as Rasa's SQL tracker store holds them in PostgreSQL."""
    return cluster.rasa_rows("SELECT id, type_name, action_name, data FROM events WHERE sender_id LIKE %s "
                             "ORDER BY id", f"%:{form.sender}")


def test_every_action_server_down_mid_form_the_user_is_told_and_sending_again_continues(cluster: Cluster):
    form = MeterForm(cluster, 808)
    form.open()
    form.answer_one()
    question = form.asked()
    before = stored_events(cluster, form)
    for name in cluster.replicas("actions"):
        cluster.kill(name)  # SIGKILL both: HAProxy has no action server left (refused, then 503)
    served = len(form.served)
    for _ in range(2):  # round robin: once on each Rasa process
        told = texts(form.say(str(form.wanted[question])))
        assert RETRY in told, told  # not silence
    assert set(form.served[served:]) == {"rasa-1", "rasa-2"}, form.served
    assert stored_events(cluster, form) == before  # nothing of the two failed turns was stored
    for name in cluster.replicas("actions"):
        cluster.start(name)
    cluster.wait_balanced("actions")
    form.say(str(form.wanted[question]))  # sent again: taken as the answer to the same question, the form goes on
    form.answered.append(question)
    assert form.asked() in form.wanted and form.asked() not in form.answered, texts(form.replies)
    form.answer_all()
    # and at the confirmation: the submission cannot be sent, the form's answers are kept
    before = stored_events(cluster, form)
    for name in cluster.replicas("actions"):
        cluster.kill(name)
    assert RETRY in texts(form.say("yes")), texts(form.replies)
    assert form.stored() == {code: 0 for code in form.wanted}
    assert stored_events(cluster, form) == before
    for name in cluster.replicas("actions"):
        cluster.start(name)
    cluster.wait_balanced("actions")
    assert "recorded" in texts(form.say("yes")), texts(form.replies)
    form.assert_stored_once()


def send_until_taken(form: MeterForm, text: str, deadline: float) -> tuple[list[dict], int]:
    """Sends a message (with one message id) until the assistant takes it; the number of retry messages seen."""
    message_id, retries = uuid.uuid4().hex, 0
    while True:
        replies = form.say(text, message_id=message_id)
        said = texts(replies)
        if RETRY not in said and PORTAL_DOWN not in said:
            return replies, retries
        retries += 1
        assert time.monotonic() < deadline, f"still failing: {said}"
        time.sleep(0.5)


def test_postgresql_restarted_during_traffic_fails_cleanly_and_loses_nothing(cluster: Cluster):
    forms = [MeterForm(cluster, 606)]  # the user's one device: one meter form at a time
    statuses: list[int] = []
    retries: list[int] = []
    errors: list[BaseException] = []
    restarted = threading.Event()

    def chat(form: MeterForm) -> None:
        try:
            deadline = time.monotonic() + 120
            send_until_taken(form, "I'd like to enter my meter readings", deadline)
            while len(form.answered) < len(form.wanted):
                code = form.asked()
                _, seen = send_until_taken(form, str(form.wanted[code]), deadline)
                retries.append(seen)
                if form.asked() != code:
                    form.answered.append(code)
                time.sleep(0.3)
            restarted.wait(60)
            replies, seen = send_until_taken(form, "yes", deadline)
            retries.append(seen)
            assert "recorded" in texts(replies), texts(replies)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    # plain API traffic as well: the portal's answers during the restart must be JSON, never an HTML error page
    def api_traffic() -> None:
        while not restarted.is_set():
            answer = cluster.api(USER, "/cases")
            statuses.append(answer.status_code)
            assert answer.headers["content-type"].startswith("application/json")
            time.sleep(0.05)

    workers = [threading.Thread(target=chat, args=(form,)) for form in forms] + [threading.Thread(target=api_traffic)]
    for worker in workers:
        worker.start()
    time.sleep(2)
    cluster.restart_postgres()  # pg_ctl restart -m fast: every connection of every service is cut
    time.sleep(3)
    restarted.set()
    for worker in workers:
        worker.join(180)
    assert not errors, errors
    print(f"PostgreSQL restart: API answers {sorted(set(statuses))} ({statuses.count(503)} x 503), "
          f"chat messages sent again after a retry message: {sum(retries)}")
    assert set(statuses) <= {200, 503}, statuses  # 503 JSON (database_unavailable) at worst
    for form in forms:
        form.assert_stored_once()
    # the services reconnected without a restart: every process is the one started at the beginning
    assert all(service.alive for service in cluster.services.values())
    assert cluster.api(USER, "/users/me").status_code == 200


def test_the_rasa_process_serving_a_conversation_killed_mid_form_the_other_continues(cluster: Cluster):
    form = MeterForm(cluster, 707)
    form.open()
    form.answer_one()
    form.answer_one()
    serving = form.served[-1]
    next_question = form.asked()
    cluster.kill(serving)  # SIGKILL, between two turns
    assert not cluster.services[serving].alive
    code = form.answer_one()  # answers the question the killed process asked
    assert code == next_question
    assert form.served[-1] != serving and form.served[-1].startswith("rasa-"), form.served
    form.answer_all()
    assert "recorded" in texts(form.say("yes")), texts(form.replies)
    form.assert_stored_once()
