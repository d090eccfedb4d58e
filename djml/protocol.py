"""The daemon's wire protocol: one module shared by the daemon, the TUI and the CLI.

Newline-delimited JSON over a Unix socket (mode 0600):

- request   ``{"id": 1, "method": "status", "params": {}}``
- response  ``{"id": 1, "result": {...}}`` or ``{"id": 1, "error": {"code": "...", "message": "..."}}``
- event     ``{"event": "item.added", "data": {...}}`` (only to connections that subscribed)
- progress  ``{"event": "progress", "data": {"id": 1, "method": "train", "stage": "...", "done": 3, "total": 9}}``
  (only to the connection whose request ``id`` is still running: long actions such as
  ``train``, ``import`` and ``tags.write`` report what they are doing before they answer)
- part      ``{"id": 1, "part": "text"}``: a streamed method (:data:`STREAMED`) answers with
  any number of parts, then its response. A part is output as the CLI prints it (whole
  lines), so a client writes it out without decoding rows or rendering them.

The first call on a connection should be ``hello``; it reports the protocol and schema
versions so a client can refuse to talk to a daemon it does not understand, and the
streamed methods it offers (``streams``). A client of an older compatible protocol
(:data:`OLDEST_PROTOCOL` on) is answered in its own version: versions since then only
added methods, so it keeps working and never sees a part.

Why a table of methods with parameter types here instead of in the daemon: the server
validates every request against it (so a handler never sees a wrong type), and clients and
docs can list what exists without importing the daemon. Only the standard library is
imported: CLI one-shots import this module.
"""

from __future__ import annotations

import json

from djml.safetext import dumps

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing: CLI one-shots import this
if TYPE_CHECKING:
    from typing import Any

PROTOCOL_VERSION = 5  # 5: analyze (a client's open files); 4: streamed methods (query.lines); 3: every mutating
                      # command and the TUI's reads; progress
OLDEST_PROTOCOL = 3   # the oldest client protocol the daemon still serves (in that version)
MAX_LINE_BYTES = 1 << 20          # a request line longer than this gets "too_large" and a close
RATE_PER_SECOND = 1000.0          # per-connection token bucket: sustained requests per second
RATE_BURST = 2000                 # ... and the burst it tolerates

# Error codes (the "code" field of an error response).
PARSE_ERROR = "parse_error"              # not JSON / not UTF-8
INVALID_REQUEST = "invalid_request"      # JSON, but not a request object
METHOD_NOT_FOUND = "method_not_found"
INVALID_PARAMS = "invalid_params"
NOT_FOUND = "not_found"                  # the item / path / model asked about does not exist
FORBIDDEN = "forbidden"                  # a path outside the configured folders
INTERNAL = "internal"                    # a bug in the daemon (logged with a traceback)
RATE_LIMITED = "rate_limited"
TOO_LARGE = "too_large"
METHOD_NOT_AVAILABLE = "method_not_available"  # the feature (models, recommend) is not installed
UNAVAILABLE = "unavailable"              # the daemon is shutting down
ERROR_CODES = frozenset({
    PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, NOT_FOUND, FORBIDDEN,
    INTERNAL, RATE_LIMITED, TOO_LARGE, METHOD_NOT_AVAILABLE, UNAVAILABLE,
})

EVENTS = frozenset({
    "item.added",       # {item_id, path, kind, outcome}
    "item.updated",     # {item_id, path, outcome, old_path?}
    "item.failed",      # {path, error, attempts, final}
    "item.missing",     # {paths}
    "queue.progress",   # {queued, running, settling, done, failed, files_per_second}
    "review.changed",   # {task?, item_ids}
    "model.trained",    # {task, version, ...}
    "model.training",   # {task, reason}: the monitor started a retraining
    "model.drift",      # {task, version, model, features, labels, message, n_items}
})
PROGRESS = "progress"   # {id, method, stage, done?, total?}: to the requesting connection only
# Output formats of a streamed listing: as `djml ls --json` and as `djml ls` into a pipe.
LINE_FORMATS = ("json", "plain")

# Parameter specs: name -> (accepted JSON types, required). ``float`` accepts ints too;
# ``bool`` is never accepted where a number is expected.
_STR, _INT, _NUM, _BOOL, _LIST, _DICT = (str,), (int,), (int, float), (bool,), (list,), (dict,)
_ID = (int, str)
_FILTERS = {
    "kind": (_STR, False), "bpm": ((str, list), False), "energy": ((str, list), False),
    "key": ((str, int), False),
    "genre": (_STR, False), "label": (_STR, False), "search": (_STR, False),
    "missing": (_BOOL, False), "limit": (_INT, False), "offset": (_INT, False),
    "sort": (_STR, False), "descending": (_BOOL, False),  # djml.query.SORTS; NULLs last, ties by id
}
METHODS: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "hello": {"client": (_STR, False), "protocol": (_INT, False)},
    "status": {},
    "query": _FILTERS,
    # the rows of `query` (no page limit) as the CLI prints them, streamed in parts
    "query.lines": {**_FILTERS, "format": (_STR, True)},
    "show": {"ref": (_ID, True)},
    "failed": {},
    "scan": {"paths": (_LIST, False)},
    "retry": {"path": (_STR, True)},
    "review.list": {"task": (_STR, False), "limit": (_INT, False)},
    "review.next": {"task": (_STR, False)},
    # ref (or item_id): an item id, an absolute path or words naming exactly one item
    # (djml.labelling); task defaults to the kind's main task; create allows a new bucket
    "label.set": {"ref": (_ID, False), "item_id": (_INT, False), "label": (_STR, True), "task": (_STR, False),
                  "create": (_BOOL, False)},
    "label.undo": {"ref": (_ID, False), "item_id": (_INT, False), "task": (_STR, False)},
    "buckets.list": {},
    "buckets.create": {"name": (_STR, True)},
    "buckets.rename": {"old": (_STR, True), "new": (_STR, True)},
    "buckets.delete": {"name": (_STR, True), "force": (_BOOL, False)},
    "folders.list": {},
    "folders.add": {"path": (_STR, True), "kind": (_STR, False)},   # kind: library | samples
    "folders.remove": {"path": (_STR, True)},
    "recommend": {"ref": (_ID, True), "options": (_DICT, False)},
    "recommend.accept": {"ref": (_ID, True), "item_id": (_INT, True), "options": (_DICT, False)},
    "recommend.train": {},   # re-learn the set model and ranking weights from every set
    # what the TUI shows besides items: label choices per task, labels made since a time
    # (the client's local midnight, ISO 8601), the daemon's recent events
    "labels.choices": {"task": (_STR, True), "limit": (_INT, False)},
    "labels.count": {"since": (_STR, True), "source": (_STR, False)},
    "events.recent": {"limit": (_INT, False)},
    # a label CSV, read by the client (the daemon reads no file outside the configured
    # folders): all rows or none; correction=True records them as the user's corrections
    "labels.import": {"text": (_STR, True), "file": (_STR, False), "task": (_STR, False),
                      "new_buckets": (_BOOL, False), "correction": (_BOOL, False)},
    # collections parsed by the client (djml.interop.model.ForeignCollection.to_dict)
    "import": {"collections": (_LIST, True), "match_names": (_BOOL, False), "dry_run": (_BOOL, False)},
    "tags.write": {"filters": (_DICT, False), "dry_run": (_BOOL, False), "verify": (_BOOL, False)},
    "tags.undo": {"batch": (_STR, False), "force": (_BOOL, False)},
    "train": {"task": (_STR, True), "model": (_STR, False)},
    "models.list": {"task": (_STR, False)},
    "models.stats": {"task": (_STR, False)},      # acceptance of predictions (djml.models.monitor)
    "models.history": {"task": (_STR, False)},    # versions over time, drift, runs, live training
    "models.activate": {"version": (_STR, True)},
    "models.rollback": {"task": (_STR, True)},
    "models.delete": {"version": (_STR, True)},
    "predict": {"ref": (_ID, True), "task": (_STR, False), "debug": (_BOOL, False)},   # and store it
    # `djml analyze` by the warm workers: files are the client's open descriptors,
    # [{"fd": 3, "suffix": ".flac"}, ...] (at most ANALYZE_MAX_FILES); the daemon reads each
    # through /proc/<the peer's pid>/fd/<fd>, never by a name (it has none), so it reads
    # only what the client could open itself. Answer: {"rows": [...]} in the same order,
    # each as `djml analyze --json` prints it but for "path" (the client's to fill in). Linux;
    # kind: track | sample
    "analyze": {"files": (_LIST, True), "kind": (_STR, False)},
    "subscribe": {"events": (_LIST, True)},
    "unsubscribe": {"events": (_LIST, False)},
    "shutdown": {},
}
ANALYZE_MAX_FILES = 64
STREAMED = frozenset({"query.lines"})   # answered by parts, then a response (see the module docstring)


class ProtocolError(Exception):
    """A request that cannot be served; becomes an error response with ``code``."""

    def __init__(self, code: str, message: str, request_id: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


class RemoteError(Exception):
    """Raised by the client when the daemon answered with an error."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message


class Request:
    """One checked request (a plain class: ``dataclasses`` would double what a one-shot
    client imports)."""

    __slots__ = ("id", "method", "params")

    def __init__(self, id: Any, method: str, params: dict[str, Any] | None = None):
        self.id, self.method, self.params = id, method, {} if params is None else params

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Request) and (self.id, self.method, self.params) == (
            other.id, other.method, other.params)

    def __repr__(self) -> str:
        return f"Request(id={self.id!r}, method={self.method!r}, params={self.params!r})"


def encode(message: dict[str, Any]) -> bytes:
    """One message as a JSON line. Non-JSON values (paths, datetimes) become strings, the
    same way the CLI renders them, so output is identical through the daemon or not. File
    names with undecodable bytes travel as JSON surrogate escapes (lossless)."""
    return dumps(message, separators=(",", ":")).encode() + b"\n"


def request(request_id: Any, method: str, params: dict[str, Any] | None = None) -> bytes:
    return encode({"id": request_id, "method": method, "params": params or {}})


def response(request_id: Any, result: Any) -> bytes:
    return encode({"id": request_id, "result": result})


def error(request_id: Any, code: str, message: str) -> bytes:
    return encode({"id": request_id, "error": {"code": code, "message": message}})


def event(name: str, data: dict[str, Any]) -> bytes:
    return encode({"event": name, "data": data})


def part(request_id: Any, text: str) -> bytes:
    """One part of a streamed answer (see :data:`STREAMED`)."""
    return part_line(request_id, part_text(text))


def part_text(text: str) -> bytes:
    """A part's text as its JSON string, which a daemon may keep and send again."""
    return dumps(text, separators=(",", ":")).encode()


def part_line(request_id: Any, encoded: bytes) -> bytes:
    """The part line of ``encoded`` (from :func:`part_text`) for the request ``request_id``."""
    return b'{"id":%s,"part":%s}\n' % (dumps(request_id).encode(), encoded)


def progress(request_id: Any, method: str, report: dict[str, Any]) -> bytes:
    """A progress line for the request ``request_id`` (see :data:`PROGRESS`)."""
    return event(PROGRESS, {"id": request_id, "method": method, **report})


def parse_request(line: bytes) -> Request:
    """Decode and validate one request line (raises :class:`ProtocolError`)."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:   # RecursionError: [[[[…]]]]
        raise ProtocolError(PARSE_ERROR, f"not valid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError(INVALID_REQUEST, "a request must be a JSON object")
    request_id = message.get("id")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, (int, str))):
        raise ProtocolError(INVALID_REQUEST, "id must be a number or a string")
    method = message.get("method")
    if not isinstance(method, str):
        raise ProtocolError(INVALID_REQUEST, "method must be a string", request_id)
    params = message.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError(INVALID_PARAMS, "params must be an object", request_id)
    unknown_keys = set(message) - {"id", "method", "params"}
    if unknown_keys:
        raise ProtocolError(INVALID_REQUEST, f"unknown request fields: {sorted(unknown_keys)}", request_id)
    if method not in METHODS:
        raise ProtocolError(METHOD_NOT_FOUND, f"no method {method!r}", request_id)
    check_params(method, params, request_id)
    return Request(request_id, method, params)


def check_params(method: str, params: dict[str, Any], request_id: Any = None) -> None:
    spec = METHODS[method]
    unknown = sorted(set(params) - set(spec))
    if unknown:
        raise ProtocolError(
            INVALID_PARAMS, f"{method}: unknown parameter(s) {unknown}; known: {sorted(spec)}", request_id
        )
    for name, (types, required) in spec.items():
        if name not in params or params[name] is None:
            if required:
                raise ProtocolError(INVALID_PARAMS, f"{method}: missing parameter {name!r}", request_id)
            continue
        value = params[name]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            wanted = " or ".join(t.__name__ for t in types)
            raise ProtocolError(
                INVALID_PARAMS, f"{method}: {name!r} must be {wanted}, got {type(value).__name__}", request_id
            )


def answered_protocol(client_protocol: int | None) -> int:
    """The version ``hello`` answers a client that speaks ``client_protocol``: its own
    when it is older but still served, else this one (a client too old, or newer, sees
    the daemon's version and refuses)."""
    if client_protocol is not None and OLDEST_PROTOCOL <= client_protocol < PROTOCOL_VERSION:
        return client_protocol
    return PROTOCOL_VERSION


def parse_message(line: bytes) -> dict[str, Any]:
    """Client side: decode a response, part or event line (raises ValueError on garbage)."""
    message = json.loads(line)
    if not isinstance(message, dict) or not ("event" in message or "id" in message):
        raise ValueError(f"unexpected message from daemon: {line[:200]!r}")
    return message
