"""The records API client: one attempt per call, classified; nothing slow between the turn and the send."""

from __future__ import annotations

from csv_to_api.api import Answer, RecordsApi

from fake_records_api import FakeRecordsApi


def test_the_token_is_read_before_the_turn_and_the_send_follows_it() -> None:
    events: list[str] = []
    with FakeRecordsApi(token="t0ken") as fake:

        def token() -> str:
            events.append("token")  # may call Secrets Manager: must not sit between the turn and the send
            return "t0ken"

        def turn() -> None:
            assert fake.requests() == [], "sent before its turn"
            events.append("turn")

        api = RecordsApi(fake.url, token_provider=token)
        response = api.post("file-1:1", b'{"a": "1"}', before_send=turn)
        assert events == ["token", "turn"]
        assert response.answer is Answer.ACCEPTED
        assert response.latency_ms > 0
        assert [entry["key"] for entry in fake.requests()] == ["file-1:1"]


def test_a_refused_connection_is_transient_and_says_why() -> None:
    with FakeRecordsApi() as fake:
        url = fake.url
    response = RecordsApi(url, token_provider=lambda: "x", connect_timeout=1).post("f:1", b"{}")
    assert response.answer is Answer.TRANSIENT
    assert "Error" in response.detail, response.detail
