"""The message this worker consumes (version 1), as producers must send it.

SQS body, JSON:  {"version": 1, "id": "<unique id, 1-256 chars>", "payload": <any JSON>}
Message attribute ``correlation_id`` (String, optional) is carried into every log line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pipelines_shared.retry import PermanentError

VERSION = 1
MAX_ID_LENGTH = 256


class InvalidMessage(PermanentError):
    """The message can never be processed: retries will not help, it belongs in the DLQ."""


@dataclass(frozen=True)
class WorkItem:
    id: str
    payload: Any

    @classmethod
    def from_body(cls, body: str) -> WorkItem:
        try:
            data = json.loads(body)
        except json.JSONDecodeError as error:
            raise InvalidMessage(f"body is not JSON: {error}") from error
        if not isinstance(data, dict):
            raise InvalidMessage("body must be a JSON object")
        version = data.get("version")
        # type() rather than ==: JSON true is Python True, and True == 1.
        if type(version) is not int or version != VERSION:
            raise InvalidMessage(f"unsupported version {version!r}, expected {VERSION}")
        item_id = data.get("id")
        if not isinstance(item_id, str) or not 0 < len(item_id) <= MAX_ID_LENGTH:
            raise InvalidMessage(f"id must be a string of 1-{MAX_ID_LENGTH} characters")
        if "payload" not in data:
            raise InvalidMessage("payload is missing")
        return cls(id=item_id, payload=data["payload"])

    def to_body(self) -> str:
        return json.dumps({"version": VERSION, "id": self.id, "payload": self.payload}, separators=(",", ":"))
