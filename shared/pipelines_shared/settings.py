"""The one settings loader: a frozen dataclass filled from environment variables at cold start.

Environment variables hold configuration and the *names* of secrets, never secret values: those are
fetched with :func:`get_secret` / :func:`get_parameter`, which cache them in-process for a while so a
warm Lambda does not call Secrets Manager or SSM on every invocation.

Example::

    @dataclass(frozen=True)
    class Settings:
        table_name: str                       # from TABLE_NAME, required
        batch_size: int = 100                 # from BATCH_SIZE
        dry_run: bool = False                 # true/false, 1/0, yes/no, on/off
        sources: tuple[str, ...] = ()         # comma separated
        db_secret_id: str = field(default="", metadata={"env": "DB_SECRET_ARN"})

    SETTINGS = load_settings(Settings)        # module level in handler.py: once per cold start
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pipelines_shared import aws

DEFAULT_CACHE_TTL_SECONDS = 300.0

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """Settings could not be loaded; the message names every missing or invalid variable."""


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected one of true/false, 1/0, yes/no, on/off")


def _parse_tuple(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


_PARSERS: dict[Any, Callable[[str], Any]] = {
    str: str,
    int: lambda raw: int(raw.strip()),
    float: lambda raw: float(raw.strip()),
    bool: _parse_bool,
    tuple[str, ...]: _parse_tuple,
}


def _parser_for(annotation: Any) -> tuple[Callable[[str], Any], bool]:
    """Return (parser, optional) for a field type; ``X | None`` fields are optional."""
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"unsupported settings type {annotation!r}")
        annotation, optional = members[0], True
    parser = _PARSERS.get(annotation)
    if parser is None:
        supported = "str, int, float, bool or tuple[str, ...] (optionally | None)"
        raise TypeError(f"unsupported settings type {annotation!r}: use {supported}")
    return parser, optional


def env_var_name(f: dataclasses.Field[Any], prefix: str = "") -> str:
    """The environment variable a settings field is read from: ``metadata["env"]`` or PREFIX + NAME."""
    return f.metadata.get("env") or f"{prefix}{f.name}".upper()


def load_settings[T](cls: type[T], *, prefix: str = "", environ: Mapping[str, str] | None = None) -> T:
    """Build ``cls`` (a frozen dataclass) from env vars; raise SettingsError naming every bad variable.

    A field without a default is required. An empty variable counts as unset, because Terraform and
    shells often export empty strings for "not configured".
    """
    if not dataclasses.is_dataclass(cls) or not isinstance(cls, type):
        raise TypeError(f"{cls!r} is not a dataclass")
    if not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]  # set by @dataclass, not in typeshed
        raise TypeError(f"{cls.__name__} must be a frozen dataclass: settings do not change after cold start")
    env = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        name = env_var_name(f, prefix)
        parser, optional = _parser_for(hints[f.name])
        raw = env.get(name, "")
        if raw.strip() == "":
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            if has_default:
                continue
            if optional:
                values[f.name] = None
                continue
            problems.append(f"{name} is required (for {cls.__name__}.{f.name})")
            continue
        try:
            values[f.name] = parser(raw)
        except ValueError as exc:
            problems.append(f"{name}={raw!r} is not a valid {_type_label(hints[f.name])}: {exc}")
    if problems:
        raise SettingsError(f"cannot load {cls.__name__}: " + "; ".join(problems))
    return cls(**values)


def _type_label(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation)


class _TTLCache:
    """Thread-safe cache of secret and parameter strings: per-entry age limit, injectable clock."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float]) -> None:
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._entries: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get_or_load(self, key: tuple[str, str], load: Callable[[], str], max_age: float | None) -> str:
        limit = self.ttl_seconds if max_age is None else max_age
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and now - entry[0] < limit:
            return entry[1]
        # Loading outside the lock: a slow Secrets Manager call must not block readers of other keys.
        value = load()
        with self._lock:
            self._entries[key] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# Powertools' parameters utility caches too, but reads the wall clock directly, so its expiry cannot
# be tested without patching time; this cache takes a clock.
_cache = _TTLCache(DEFAULT_CACHE_TTL_SECONDS, time.monotonic)


def configure_secret_cache(
    *, ttl_seconds: float | None = None, clock: Callable[[], float] | None = None
) -> None:
    """Change how long secrets and parameters are cached (seconds) and, in tests, the clock used."""
    if ttl_seconds is not None:
        if ttl_seconds < 0:
            raise ValueError("ttl_seconds must be >= 0")
        _cache.ttl_seconds = ttl_seconds
    if clock is not None:
        _cache.clock = clock


def clear_secret_cache() -> None:
    """Drop every cached secret and parameter, so the next read goes to AWS (tests, rotation)."""
    _cache.clear()


def reset_secret_cache() -> None:
    """Clear the cache and restore the default TTL and clock (tests)."""
    clear_secret_cache()
    configure_secret_cache(ttl_seconds=DEFAULT_CACHE_TTL_SECONDS, clock=time.monotonic)


def get_secret(secret_id: str, *, max_age: float | None = None) -> str:
    """Return a Secrets Manager secret's SecretString, cached for ``max_age`` s (default: cache TTL)."""

    def load() -> str:
        response = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)
        if "SecretString" not in response:
            raise SettingsError(f"secret {secret_id!r} has no SecretString (binary secrets unsupported)")
        secret: str = response["SecretString"]
        return secret

    return _cache.get_or_load(("secret", secret_id), load, max_age)


def get_secret_json(secret_id: str, *, max_age: float | None = None) -> Any:
    """Return a Secrets Manager secret's SecretString decoded as JSON (e.g. a DB credentials dict)."""
    raw = get_secret(secret_id, max_age=max_age)
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        # Never echo the value: it is a secret.
        raise SettingsError(f"secret {secret_id!r} is not valid JSON") from None


def get_parameter(name: str, *, max_age: float | None = None) -> str:
    """Return an SSM parameter's value, decrypted if it is a SecureString, cached like secrets."""

    def load() -> str:
        response = aws.client("ssm").get_parameter(Name=name, WithDecryption=True)
        value: str = response["Parameter"]["Value"]
        return value

    return _cache.get_or_load(("parameter", name), load, max_age)
