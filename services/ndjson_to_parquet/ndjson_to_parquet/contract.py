"""The NDJSON-to-Parquet pipeline's messages and names (version 1), as fixed by
``docs/ndjson_to_parquet.md``: change both together and bump :data:`VERSION`.

* :class:`Manifest` (+ :class:`ManifestFile`): the manifest JSON the Glue job reads;
* :class:`ExecutionInput`: the Step Functions execution input, also the EventBridge ``ManifestReady``
  detail;
* :class:`StatusUpdate` / :class:`StatusUpdateResult`: the batch-status-updater event and response;
* :class:`QuarantineReason`: the ``<file_key>.reason.json`` written beside a quarantined object;
* S3 layout: :func:`parse_landing_key`, :func:`quarantine_key`, :func:`manifest_object_key`,
  :func:`output_path`, :func:`s3_uri` / :func:`parse_s3_uri`;
* :func:`new_manifest_id` (``batch-YYYYMMDD-HHMMSS-<8 hex>``), also the execution name.

Every ``from_*`` parser raises a :class:`ContractError` (a ``PermanentError``: no retry can fix a
message that breaks the contract).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any, overload

from pipelines_shared.retry import PermanentError

VERSION = 1

LANDING_PREFIX = "landing/ndjson/"
QUARANTINE_PREFIX = "quarantine/"
UNDATED = "undated"
"""The quarantine folder (and tracking ``date_prefix``) of a landing key without a valid date folder."""
MANIFEST_PREFIX = "manifests/"
OUTPUT_PREFIX = "pipeline/output/merged-parquet-"
EXTENSIONS = (".ndjson", ".jsonl")

EVENT_SOURCE = "lambda-pipelines.ndjson-parquet"
MANIFEST_READY = "ManifestReady"
"""EventBridge detail-type of a manifest announcement (``START_MODE=eventbridge``)."""

# Manifest reasons: why a manifest was made.
REASON_FULL = "full"
"""A full batch (max files or max bytes reached), made by manifest-builder."""
REASON_ORPHAN_FLUSH = "orphan_flush"
"""A partial batch: its oldest file waited longer than the orphan threshold."""
REASON_STREAM = "stream"
"""A full batch made by stream-manifest-creator."""
REASON_RECOVERED = "recovered"
"""Completed by a flush pass from the claims of a builder that died before recording the manifest."""
MANIFEST_REASONS = frozenset({REASON_FULL, REASON_ORPHAN_FLUSH, REASON_STREAM, REASON_RECOVERED})

OUTCOME_COMPLETED = "completed"
OUTCOME_FAILED = "failed"
OUTCOMES = frozenset({OUTCOME_COMPLETED, OUTCOME_FAILED})

# Quarantine reason codes.
BAD_KEY = "bad_key"
BAD_EXTENSION = "bad_extension"
EMPTY = "empty"
TOO_LARGE = "too_large"
UNREADABLE = "unreadable"
NOT_JSON = "not_json"
NOT_OBJECT = "not_object"
NOT_UTF8 = "not_utf8"
QUARANTINE_REASONS = frozenset(
    {BAD_KEY, BAD_EXTENSION, EMPTY, TOO_LARGE, UNREADABLE, NOT_JSON, NOT_OBJECT, NOT_UTF8}
)

MANIFEST_KEY_PREFIX = "MANIFEST#"
"""Sort key prefix of MANIFEST records in the file-tracking table (``MANIFEST#<manifest_id>``)."""

# \Z, not $: ``$`` also matches before a trailing newline, which the schemas' patterns refuse.
MANIFEST_ID = re.compile(r"^batch-(\d{8})-(\d{6})-[0-9a-f]{8}\Z")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})\Z")
MAX_GLUE_JOB_NAME = 255


class ContractError(PermanentError):
    """A message or name does not follow the contract."""


class InvalidLandingKey(ContractError):
    """An object key outside ``landing/ndjson/YYYY-MM-DD/<file_key>``."""


class InvalidManifest(ContractError):
    """A manifest JSON that breaks the contract."""


class InvalidExecutionInput(ContractError):
    """An execution input / ManifestReady detail that breaks the contract."""


class InvalidStatusUpdate(ContractError):
    """A batch-status-updater event that breaks the contract."""


class InvalidQuarantineReason(ContractError):
    """A quarantine reason JSON that breaks the contract."""


# -- names -----------------------------------------------------------------------------------------


def is_date_prefix(value: object) -> bool:
    """True for a real calendar date written ``YYYY-MM-DD``."""
    if not isinstance(value, str) or not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_iso_time(value: object) -> bool:
    """True for an ISO 8601 date and time with its UTC offset (``datetime.isoformat()`` of an aware
    datetime), as the schemas' ``date-time`` fields are written."""
    if not isinstance(value, str) or not _ISO_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def date_prefix_of(moment: datetime) -> str:
    """The ``YYYY-MM-DD`` folder of a moment, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class LandingKey:
    date_prefix: str
    file_key: str

    @property
    def key(self) -> str:
        return f"{LANDING_PREFIX}{self.date_prefix}/{self.file_key}"


def parse_landing_key(key: str) -> LandingKey:
    """Split ``landing/ndjson/YYYY-MM-DD/<file_key>``; the date must exist and file_key be non-empty."""
    if not isinstance(key, str) or not key.startswith(LANDING_PREFIX):
        raise InvalidLandingKey(f"key {key!r} is not under {LANDING_PREFIX}")
    folder, _, file_key = key[len(LANDING_PREFIX) :].partition("/")
    if not is_date_prefix(folder):
        raise InvalidLandingKey(f"key {key!r} has no YYYY-MM-DD date folder (found {folder!r})")
    if not file_key or file_key.endswith("/"):
        raise InvalidLandingKey(f"key {key!r} names no file below its date folder")
    return LandingKey(folder, file_key)


def quarantine_key(landing_key: str) -> str:
    """Where a landing object is copied when quarantined: ``quarantine/<date>/<file_key>``, or
    ``quarantine/undated/<rest>`` for a key without a valid date folder."""
    try:
        parsed = parse_landing_key(landing_key)
    except InvalidLandingKey:
        rest = landing_key[len(LANDING_PREFIX) :] if landing_key.startswith(LANDING_PREFIX) else landing_key
        return f"{QUARANTINE_PREFIX}{UNDATED}/{rest.lstrip('/') or 'unnamed'}"
    return f"{QUARANTINE_PREFIX}{parsed.date_prefix}/{parsed.file_key}"


def reason_key(quarantined_key: str) -> str:
    """The reason JSON beside a quarantined object."""
    return f"{quarantined_key}.reason.json"


def manifest_object_key(date_prefix: str, manifest_id: str) -> str:
    return f"{MANIFEST_PREFIX}{date_prefix}/{manifest_id}.json"


def output_path(output_bucket: str, date_prefix: str) -> str:
    return f"s3://{output_bucket}/{OUTPUT_PREFIX}{date_prefix}/"


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); raises ContractError for anything else."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ContractError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    if not bucket or not key:
        raise ContractError(f"{uri!r} names no bucket and key")
    return bucket, key


def new_manifest_id(now: datetime, token: str | None = None) -> str:
    """``batch-YYYYMMDD-HHMMSS-<8 hex>`` in UTC; the random part makes ids unique across builders."""
    suffix = token if token is not None else secrets.token_hex(4)
    manifest_id = f"batch-{now.astimezone(UTC).strftime('%Y%m%d-%H%M%S')}-{suffix}"
    if not MANIFEST_ID.match(manifest_id):
        raise ValueError(f"bad manifest id token {suffix!r}: 8 lower-case hex characters expected")
    return manifest_id


def manifest_id_time(manifest_id: str) -> datetime:
    """The UTC second a manifest id was made (its name says it)."""
    match = MANIFEST_ID.match(manifest_id) if isinstance(manifest_id, str) else None
    if not match:
        raise ContractError(f"{manifest_id!r} is not a manifest id (batch-YYYYMMDD-HHMMSS-<8 hex>)")
    try:
        return datetime.strptime(match[1] + match[2], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise ContractError(f"{manifest_id!r} carries an impossible time") from None


def manifest_record_key(manifest_id: str) -> str:
    """The ``file_key`` of a manifest's MANIFEST record (also ``manifest_key`` in the execution input)."""
    return f"{MANIFEST_KEY_PREFIX}{manifest_id}"


def is_manifest_id(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        manifest_id_time(value)
    except ContractError:
        return False
    return True


# -- parsing helpers -------------------------------------------------------------------------------


def _load_object(
    raw: str | bytes | Mapping[str, Any], error: type[ContractError], what: str
) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        data: Any = dict(raw)
    else:
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise error(f"{what} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"{what} must be a JSON object")
    version = data.get("version")
    # type() rather than ==: JSON true is Python True, and True == 1.
    if type(version) is not int or version != VERSION:
        raise error(f"{what} has version {version!r}; this code speaks version {VERSION}")
    return data


@overload
def _require[T](data: Mapping[str, Any], name: str, kind: type[T], error: type[ContractError]) -> T: ...
@overload
def _require[T, U](
    data: Mapping[str, Any], name: str, kind: tuple[type[T], type[U]], error: type[ContractError]
) -> T | U: ...
def _require(
    data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], error: type[ContractError]
) -> Any:
    """``data[name]``, checked to be of ``kind`` (one type or a pair); raises ``error`` otherwise."""
    if name not in data:
        raise error(f"missing field {name!r}")
    value = data[name]
    # bool is an int in Python, never a count or size here.
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise error(f"field {name!r} must be {_kind_name(kind)}, got {value!r}")
    if not isinstance(value, kind):
        raise error(f"field {name!r} must be {_kind_name(kind)}, got {value!r}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("null" if k is type(None) else k.__name__ for k in kinds)


def _dumps(data: object) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# -- manifest --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestFile:
    file_key: str
    uri: str
    size: int
    etag: str = ""


@dataclass(frozen=True)
class Manifest:
    """The manifest JSON: files sorted by ``file_key``, counts derived from them."""

    manifest_id: str
    date_prefix: str
    created_at: str
    reason: str
    files: tuple[ManifestFile, ...]

    @classmethod
    def build(
        cls,
        manifest_id: str,
        date_prefix: str,
        created_at: datetime,
        reason: str,
        files: Iterable[ManifestFile],
    ) -> Manifest:
        """A valid manifest, files sorted; raises InvalidManifest for anything the contract forbids."""
        manifest = cls(
            manifest_id,
            date_prefix,
            created_at.astimezone(UTC).isoformat(),
            reason,
            tuple(sorted(files, key=lambda f: f.file_key)),
        )
        manifest.validate()
        return manifest

    @property
    def file_count(self) -> int:
        return len(self.files)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def validate(self) -> None:
        if not is_manifest_id(self.manifest_id):
            raise InvalidManifest(f"bad manifest_id {self.manifest_id!r}")
        if not is_date_prefix(self.date_prefix):
            raise InvalidManifest(f"bad date_prefix {self.date_prefix!r}")
        if self.reason not in MANIFEST_REASONS:
            raise InvalidManifest(f"unknown reason {self.reason!r}")
        if not is_iso_time(self.created_at):
            raise InvalidManifest(f"created_at {self.created_at!r} is not an ISO time with its offset")
        if not self.files:
            raise InvalidManifest("a manifest lists at least one file")
        keys = [f.file_key for f in self.files]
        if keys != sorted(keys):
            raise InvalidManifest("files must be sorted by file_key")
        if len(set(keys)) != len(keys):
            raise InvalidManifest("a file_key appears twice")
        for f in self.files:
            if not isinstance(f.file_key, str) or not f.file_key:
                raise InvalidManifest(f"bad file_key {f.file_key!r}")
            parse_s3_uri(f.uri)
            if isinstance(f.size, bool) or not isinstance(f.size, int) or f.size < 0:
                raise InvalidManifest(f"bad size {f.size!r} for {f.file_key!r}")
            if not isinstance(f.etag, str):
                raise InvalidManifest(f"bad etag {f.etag!r} for {f.file_key!r}: a string (may be empty)")

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "manifest_id": self.manifest_id,
            "date_prefix": self.date_prefix,
            "created_at": self.created_at,
            "reason": self.reason,
            "file_count": self.file_count,
            "total_bytes": self.total_bytes,
            "files": [asdict(f) for f in self.files],
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())

    @classmethod
    def from_json(cls, raw: str | bytes | Mapping[str, Any]) -> Manifest:
        data = _load_object(raw, InvalidManifest, "manifest")
        files_raw = _require(data, "files", list, InvalidManifest)
        files = []
        for entry in files_raw:
            if not isinstance(entry, dict):
                raise InvalidManifest("every entry of files must be an object")
            files.append(
                ManifestFile(
                    file_key=_require(entry, "file_key", str, InvalidManifest),
                    uri=_require(entry, "uri", str, InvalidManifest),
                    size=_require(entry, "size", int, InvalidManifest),
                    etag=entry.get("etag", ""),
                )
            )
        manifest = cls(
            manifest_id=_require(data, "manifest_id", str, InvalidManifest),
            date_prefix=_require(data, "date_prefix", str, InvalidManifest),
            created_at=_require(data, "created_at", str, InvalidManifest),
            reason=_require(data, "reason", str, InvalidManifest),
            files=tuple(files),
        )
        try:
            manifest.validate()
        except ContractError as exc:
            raise InvalidManifest(str(exc)) from None
        if data.get("file_count") != manifest.file_count or data.get("total_bytes") != manifest.total_bytes:
            raise InvalidManifest("file_count/total_bytes do not match the files listed")
        return manifest


# -- execution input = ManifestReady detail --------------------------------------------------------


@dataclass(frozen=True)
class ExecutionInput:
    manifest_id: str
    date_prefix: str
    manifest_key: str
    manifest_path: str
    file_count: int
    total_bytes: int
    glue_job_name: str
    output_path: str

    def to_dict(self) -> dict[str, Any]:
        return {"version": VERSION, **asdict(self)}

    def to_json(self) -> str:
        return _dumps(self.to_dict())

    @classmethod
    def from_json(cls, raw: str | bytes | Mapping[str, Any]) -> ExecutionInput:
        data = _load_object(raw, InvalidExecutionInput, "execution input")
        err = InvalidExecutionInput
        value = cls(
            manifest_id=_require(data, "manifest_id", str, err),
            date_prefix=_require(data, "date_prefix", str, err),
            manifest_key=_require(data, "manifest_key", str, err),
            manifest_path=_require(data, "manifest_path", str, err),
            file_count=_require(data, "file_count", int, err),
            total_bytes=_require(data, "total_bytes", int, err),
            glue_job_name=_require(data, "glue_job_name", str, err),
            output_path=_require(data, "output_path", str, err),
        )
        expected_key = manifest_record_key(value.manifest_id)
        if not is_manifest_id(value.manifest_id) or value.manifest_key != expected_key:
            raise err("manifest_id / manifest_key do not follow the contract")
        if not is_date_prefix(value.date_prefix):
            raise err(f"bad date_prefix {value.date_prefix!r}")
        for name, uri in (("manifest_path", value.manifest_path), ("output_path", value.output_path)):
            try:
                parse_s3_uri(uri)
            except ContractError as exc:
                raise err(f"{name}: {exc}") from None
        if not 0 < len(value.glue_job_name) <= MAX_GLUE_JOB_NAME:
            raise err(f"glue_job_name must be 1-{MAX_GLUE_JOB_NAME} characters")
        return value


# -- batch-status-updater --------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusUpdate:
    """What the state machine sends batch-status-updater after the Glue job ends."""

    manifest_id: str
    date_prefix: str
    manifest_path: str
    outcome: str
    glue_job_run_id: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"version": VERSION, **asdict(self)}

    @classmethod
    def from_event(cls, event: Any) -> StatusUpdate:
        if not isinstance(event, Mapping):
            raise InvalidStatusUpdate(f"expected a JSON object, got {type(event).__name__}")
        data = _load_object(event, InvalidStatusUpdate, "status update")
        err = InvalidStatusUpdate
        error = data.get("error")
        if error is not None and not isinstance(error, str):
            # Step Functions hands over Catch's error object as is; keep its text rather than fail.
            error = _dumps(error) if isinstance(error, dict | list) else str(error)
        value = cls(
            manifest_id=_require(data, "manifest_id", str, err),
            date_prefix=_require(data, "date_prefix", str, err),
            manifest_path=_require(data, "manifest_path", str, err),
            outcome=_require(data, "outcome", str, err),
            glue_job_run_id=_require(data, "glue_job_run_id", (str, type(None)), err)
            if "glue_job_run_id" in data
            else None,
            error=error,
        )
        if value.outcome not in OUTCOMES:
            raise err(f"outcome must be one of {sorted(OUTCOMES)}, got {value.outcome!r}")
        if not is_manifest_id(value.manifest_id):
            raise err(f"bad manifest_id {value.manifest_id!r}")
        if not is_date_prefix(value.date_prefix):
            raise err(f"bad date_prefix {value.date_prefix!r}")
        try:
            parse_s3_uri(value.manifest_path)
        except ContractError as exc:
            raise err(str(exc)) from None
        return value


@dataclass(frozen=True)
class StatusUpdateResult:
    """batch-status-updater's answer: how many of the manifest's files ended where."""

    manifest_id: str
    outcome: str
    updated: int = 0
    already: int = 0
    missing: int = 0
    skipped: int = 0
    """In another status the outcome may not overwrite (``completed`` when the outcome is ``failed``)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- quarantine ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuarantineReason:
    source: str
    reason: str
    detail: str
    quarantined_at: str
    """When the object was quarantined (ISO 8601, from the caller's clock)."""

    def __post_init__(self) -> None:
        if self.reason not in QUARANTINE_REASONS:
            raise InvalidQuarantineReason(f"unknown quarantine reason {self.reason!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"version": VERSION, **asdict(self)}

    def to_json(self) -> str:
        return _dumps(self.to_dict())

    @classmethod
    def from_json(cls, raw: str | bytes | Mapping[str, Any]) -> QuarantineReason:
        data = _load_object(raw, InvalidQuarantineReason, "quarantine reason")
        err = InvalidQuarantineReason
        value = cls(
            source=_require(data, "source", str, err),
            reason=_require(data, "reason", str, err),
            detail=_require(data, "detail", str, err),
            quarantined_at=_require(data, "quarantined_at", str, err),
        )
        try:
            parse_s3_uri(value.source)
        except ContractError as exc:
            raise err(f"source: {exc}") from None
        if not is_iso_time(value.quarantined_at):
            raise err(f"quarantined_at {value.quarantined_at!r} is not an ISO time with its offset")
        return value
