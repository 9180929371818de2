"""Errors raised by tracking stores.

Backend failures (botocore ``ClientError``, SQLAlchemy ``OperationalError``) are not wrapped, so
``pipelines_shared.retry`` can still tell a throttle or a dropped connection from a bug.
"""


class TrackingError(Exception):
    """Base class of the tracking store's own errors."""


class InvalidItemError(TrackingError, ValueError):
    """An item or argument cannot be stored: empty key, reserved attribute name, non-JSON value."""
