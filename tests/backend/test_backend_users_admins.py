"""GET /users/me/administrators: whom a `user` must ask for what only administrators may do."""
from __future__ import annotations


def test_a_user_sees_the_active_administrators_of_their_own_account(client, user_headers, admin_headers):
    response = client.get("/users/me/administrators", headers=user_headers)
    assert response.status_code == 200
    people = response.json()
    account_users = client.get("/users", headers=admin_headers).json()
    expected = {u["email"] for u in account_users if u["role"] == "admin" and u["status"] == "active"}
    assert {p["email"] for p in people} == expected
    assert "sntestportaldemo@outlook.com" in expected and "admin@northwind-imprimerie.fr" not in expected
    assert all(set(p) == {"email", "full_name"} for p in people)


def test_administrators_require_login(client):
    assert client.get("/users/me/administrators").status_code == 401


def test_cases_created_by_the_assistant_keep_channel_and_transcript(client, user_headers, admin_headers):
    """Requests, meter queries and order enquiries all carry the channel and the conversation transcript."""
    transcript = "user: bonjour\nbot: Bonjour !"
    made = [
        client.post("/requests", headers=user_headers, json={
            "category": "general_enquiry", "subcategory": "general_enquiry", "description": "Une question",
            "channel": "teams", "transcript": transcript}),
        client.post("/assets/53463252/meter-readings/query", headers=user_headers, json={
            "code": "112", "description": "Relevé trop élevé ?", "channel": "voice", "transcript": transcript}),
    ]
    orders = client.get("/assets/77996101/orders", headers=admin_headers).json()
    made.append(client.post("/orders/enquiries", headers=admin_headers, json={
        "order_number": orders[0]["number"], "subcategory": "missing_items", "description": "Il manque un toner",
        "channel": "web", "transcript": transcript}))
    for response, channel in zip(made, ["teams", "voice", "web"]):
        assert response.status_code == 201, response.text
        case = response.json()
        assert (case["channel"], case["transcript"]) == (channel, transcript)
