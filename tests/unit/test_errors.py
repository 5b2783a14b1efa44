"""One error root: every error the library raises on purpose derives from TokenRefresherError and
says whether it is retryable, from its error class; the failure policy reads that flag."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import UTC, datetime

import pytest

import token_refresher
from token_refresher.adapters.errors import AccessDenied, AwsError, NotFound, StoreThrottled
from token_refresher.connect.flow import FlowError
from token_refresher.connect.links import LinkError, LinkProblem
from token_refresher.errors import ErrorClass, ProviderError, TokenRefresherError
from token_refresher.state import AlertPolicy, Status, TokenState, on_failure

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def library_exceptions() -> dict[str, type[BaseException]]:
    """Every public exception class defined in the library (private control flow excluded)."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(token_refresher.__path__, "token_refresher."):
        module = importlib.import_module(info.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_public_error_derives_from_the_root():
    # Given every exception class the library defines
    found = library_exceptions()
    # Then the scan sees the kinds that once stood apart, and each derives from the one root
    assert {
        "token_refresher.adapters.errors.AwsError",
        "token_refresher.connect.links.LinkError",
        "token_refresher.connect.flow.FlowError",
        "token_refresher.errors.ProviderError",
    } <= set(found)
    assert sorted(n for n, cls in found.items() if not issubclass(cls, TokenRefresherError)) == []


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (StoreThrottled("slow down"), True),
        (AwsError("InternalFailure", code="InternalFailure"), True),
        (NotFound("no such secret"), False),
        (AccessDenied("not allowed"), False),
        (LinkError(LinkProblem.EXPIRED), False),
        (FlowError("state does not match this attempt"), False),
        (ProviderError(ErrorClass.TRANSIENT, "503 from the platform"), True),
        (ProviderError(ErrorClass.REAUTH_REQUIRED, "invalid_grant"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_retryable_follows_the_error_class(error: TokenRefresherError, retryable: bool):
    # Given an error of each kind, then it says whether trying again later can succeed
    assert error.retryable is retryable
    assert error.retryable is error.error_class.retryable


def test_an_aws_error_keeps_its_code_and_says_it_when_no_message_was_given():
    # Given AWS errors built with and without a message
    bare, described = StoreThrottled(), NotFound("secret x not found", code="ResourceNotFound")
    # Then each keeps AWS's code, and its text is safe to show
    assert (bare.code, str(bare)) == ("ThrottlingException", "ThrottlingException")
    assert (described.code, str(described)) == ("ResourceNotFound", "secret x not found")


@pytest.mark.parametrize("error_class", list(ErrorClass))
def test_the_failure_policy_stays_quiet_on_the_first_failure_only_when_it_is_retryable(
    error_class: ErrorClass,
):
    # Given a healthy connection and a first failure of each class, far from expiry
    decision = on_failure(
        TokenState(status=Status.OK),
        error_class,
        now=NOW,
        expires_at=None,
        policy=AlertPolicy(failure_threshold=3),
    )
    # Then only a retryable failure is counted quietly; every other one alerts at once
    assert (decision.event is None) is error_class.retryable
