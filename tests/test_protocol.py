"""Unit tests for the wire protocol (no daemon needed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from djml import protocol as p


def test_round_trip_request_and_response():
    req = p.parse_request(p.request(7, "label.set", {"item_id": 3, "task": "bucket", "label": "closing"}))
    assert (req.id, req.method, req.params) == (7, "label.set", {"item_id": 3, "task": "bucket", "label": "closing"})
    assert json.loads(p.response(7, {"ok": True})) == {"id": 7, "result": {"ok": True}}
    assert json.loads(p.error(7, p.NOT_FOUND, "no item 3")) == {
        "id": 7, "error": {"code": "not_found", "message": "no item 3"}}
    assert json.loads(p.event("item.added", {"item_id": 1})) == {"event": "item.added", "data": {"item_id": 1}}


def test_messages_are_single_lines_even_with_newlines_in_values():
    line = p.response(1, {"title": "two\nlines", "path": "/música/ü.wav"})
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
    assert json.loads(line)["result"]["path"] == "/música/ü.wav"


@pytest.mark.parametrize("line, code", [
    (b"not json", p.PARSE_ERROR),
    (b"\xff\xfe", p.PARSE_ERROR),
    (b"[1, 2]", p.INVALID_REQUEST),
    (b'{"id": 1}', p.INVALID_REQUEST),
    (b'{"id": true, "method": "status"}', p.INVALID_REQUEST),
    (b'{"id": [1], "method": "status"}', p.INVALID_REQUEST),
    (b'{"id": 1, "method": "status", "extra": 1}', p.INVALID_REQUEST),
    (b'{"id": 1, "method": "nope"}', p.METHOD_NOT_FOUND),
    (b'{"id": 1, "method": "status", "params": [1]}', p.INVALID_PARAMS),
    (b'{"id": 1, "method": "status", "params": {"x": 1}}', p.INVALID_PARAMS),
    (b'{"id": 1, "method": "show", "params": {}}', p.INVALID_PARAMS),
    (b'{"id": 1, "method": "label.set", "params": {"item_id": "3", "task": "bucket", "label": "x"}}',
     p.INVALID_PARAMS),
    (b'{"id": 1, "method": "label.set", "params": {"item_id": true, "task": "bucket", "label": "x"}}',
     p.INVALID_PARAMS),
    (b'{"id": 1, "method": "query", "params": {"limit": 1.5}}', p.INVALID_PARAMS),
])
def test_bad_requests_get_typed_errors(line, code):
    with pytest.raises(p.ProtocolError) as info:
        p.parse_request(line)
    assert info.value.code == code
    assert info.value.code in p.ERROR_CODES


def test_error_keeps_request_id_when_known():
    with pytest.raises(p.ProtocolError) as info:
        p.parse_request(b'{"id": "abc", "method": "nope"}')
    assert info.value.request_id == "abc"


def test_optional_params_accept_null_and_numbers_accept_ints():
    assert p.parse_request(b'{"id": 1, "method": "query", "params": {"kind": null, "limit": 5}}').params["limit"] == 5
    assert p.parse_request(b'{"method": "status"}').id is None


def test_every_method_has_a_spec_and_events_are_known():
    assert {"hello", "status", "query", "show", "failed", "scan", "retry", "review.list", "review.next",
            "label.set", "label.undo", "recommend", "train", "models.list", "models.activate",
            "models.rollback", "models.stats", "models.history", "subscribe", "shutdown"} <= set(p.METHODS)
    assert {"item.added", "item.updated", "item.failed", "item.missing", "queue.progress",
            "review.changed", "model.trained", "model.training", "model.drift"} == set(p.EVENTS)


def test_client_side_parse_rejects_garbage():
    assert p.parse_message(b'{"event": "item.added", "data": {}}')["event"] == "item.added"
    with pytest.raises(ValueError):
        p.parse_message(b'"hello"')


def test_client_and_protocol_import_only_the_standard_library():
    code = ("import sys, djml.client; bad = [m for m in ('numpy', 'click', 'rich', 'watchdog', 'librosa', "
            "'torch', 'sklearn') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
