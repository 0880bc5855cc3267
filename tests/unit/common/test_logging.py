import logging

import orjson

from common.logging import JsonFormatter, RequestInfo, current_request, redact


def test_secret_keys_are_masked_at_any_depth() -> None:
    doc = redact(
        {
            "email": "a@b.c",
            "password": "hunter2",
            "nested": [{"refresh_token": "r"}, {"card_number": "4111111111111111"}],
        }
    )
    assert doc == {
        "email": "a@b.c",
        "password": "[REDACTED]",
        "nested": [{"refresh_token": "[REDACTED]"}, {"card_number": "[REDACTED]"}],
    }


def test_secret_text_is_masked_inside_messages() -> None:
    jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl"
    text = redact(f"Authorization: Bearer abc.def and {jwt} paid with 4111 1111 1111 1111")
    assert "abc.def" not in text and jwt not in text and "4111 1111" not in text
    assert "[REDACTED_PAN]" in text


def test_formatter_writes_one_json_object_with_ids_and_extras() -> None:
    record = logging.makeLogRecord(
        {
            "name": "t",
            "levelname": "INFO",
            "msg": "paid %s",
            "args": ("ok",),
            "wallet_id": "w-1",
            "token": "secret",
        }
    )
    t = current_request.set(RequestInfo("req-1", "corr-1", "POST", "/wallets/w-1/freeze"))
    try:
        line = JsonFormatter("wallet_svc").format(record)
    finally:
        current_request.reset(t)
    doc = orjson.loads(line)
    assert doc["msg"] == "paid ok" and doc["service"] == "wallet_svc"
    assert doc["correlation_id"] == "corr-1" and doc["wallet_id"] == "w-1"
    assert doc["request_id"] == "req-1" and doc["method"] == "POST"
    assert doc["path"] == "/wallets/w-1/freeze"
    assert doc["token"] == "[REDACTED]" and "secret" not in line


def test_an_instance_of_a_service_run_several_times_names_itself_in_every_line() -> None:
    record = logging.makeLogRecord({"name": "t", "levelname": "INFO", "msg": "decided"})
    assert (
        orjson.loads(JsonFormatter("wallet_decider", "wallet_decider-2").format(record))["instance"]
        == "wallet_decider-2"
    )
    assert "instance" not in orjson.loads(JsonFormatter("wallet_decider").format(record))
