"""AWS errors in the project's own terms: the one place that reads a botocore error's code.

Adapters call :func:`translate` (or use :func:`aws_errors`) so that engines catch
``StoreThrottled``, ``RotationInProgress``, ``NotFound``... and never import botocore themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from token_refresher.errors import ErrorClass, TokenRefresherError

__all__ = [
    "AccessDenied",
    "AwsError",
    "NotFound",
    "RotationInProgress",
    "StoreThrottled",
    "aws_errors",
    "error_code",
    "error_message",
    "translate",
]


class AwsError(TokenRefresherError):
    """An AWS call failed. ``code`` is AWS's error code, or botocore's exception name when the
    call never got an answer (timeouts, connection errors). ``str()`` is safe to log: AWS error
    messages name resources, never secret values. An AWS error of no known kind (a 5xx, a
    timeout) is transient."""

    default_code = "AwsError"
    default_class: ClassVar[ErrorClass] = ErrorClass.TRANSIENT

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        self.code = code or self.default_code
        super().__init__(self.default_class, message or self.code)


class NotFound(AwsError, LookupError):
    """The resource (a secret, a version) does not exist."""

    default_code = "ResourceNotFoundException"
    default_class = ErrorClass.CONFIG


class AccessDenied(AwsError):
    """The function's (or the operator's) role may not make this call."""

    default_code = "AccessDeniedException"
    default_class = ErrorClass.PERMISSION


class StoreThrottled(AwsError):
    """AWS asked us to slow down (throttling or request-limit codes)."""

    default_code = "ThrottlingException"


class RotationInProgress(AwsError):
    """RotateSecret refused: an AWSPENDING version from another rotation exists (it can start
    once that one is finished)."""

    default_code = "InvalidRequestException"


_THROTTLING = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)
_NOT_FOUND = frozenset({"ResourceNotFoundException", "NotFound", "NotFoundException"})
_ACCESS_DENIED = frozenset({"AccessDeniedException", "AccessDenied", "AuthorizationError"})


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore error (or the exception's type name)."""
    if isinstance(exc, AwsError):
        return exc.code
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


def error_message(exc: BaseException) -> str:
    """AWS's own message for a ClientError ("" for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Message", ""))
    return ""


def translate(exc: ClientError | BotoCoreError) -> AwsError:
    """The project's own exception for a botocore one (raise it ``from`` the original)."""
    code = error_code(exc)
    text = str(exc)
    if code in _THROTTLING:
        return StoreThrottled(text, code=code)
    if code in _NOT_FOUND:
        return NotFound(text, code=code)
    if code in _ACCESS_DENIED:
        return AccessDenied(text, code=code)
    if code == "InvalidRequestException" and "previous rotation" in error_message(exc).lower():
        return RotationInProgress(text, code=code)
    return AwsError(text, code=code)


@contextmanager
def aws_errors() -> Iterator[None]:
    """Run AWS calls; botocore errors leave as the project's own (see :func:`translate`)."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc) from exc
