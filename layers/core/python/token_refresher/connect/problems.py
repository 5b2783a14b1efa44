"""What each failure page says: what happened and what to do. Nothing here names a token."""

from __future__ import annotations

from token_refresher.connect.links import LinkProblem
from token_refresher.connect.pages import Page, failure
from token_refresher.errors import ErrorClass

NEW_LINK = (
    "Ask the person who manages this connection for a new link, or wait for the next alert, "
    "which carries a fresh one."
)

_LINK_PAGES = {
    LinkProblem.EXPIRED: (
        410,
        "This link has expired",
        "Links stop working after a few days so that an old e-mail cannot be used later.",
        NEW_LINK,
    ),
    LinkProblem.USED: (
        410,
        "This link was already used",
        "Each link works once, and a newer link replaces older ones. This one was used to "
        "connect already, or a newer link was made since.",
        "If the connection still needs you, ask the person who manages this connection for a "
        "new link.",
    ),
    LinkProblem.TAMPERED: (
        400,
        "This link or sign-in response is not valid",
        "The link was changed, or the platform's answer does not belong to the sign-in started "
        "from this link in this browser.",
        "Open the original link again in this browser and continue from there. " + NEW_LINK,
    ),
    LinkProblem.LOCKED: (
        429,
        "This link is locked",
        "Sign-ins through this link failed too many times, so it no longer accepts any.",
        NEW_LINK,
    ),
    LinkProblem.FOREIGN: (
        404,
        "This link is not for this deployment",
        "It names a connection this token refresher does not manage.",
        "Check that you opened the link from the right alert, or ask the person who manages "
        "this connection for a new link.",
    ),
}

_ERROR_PAGES = {
    ErrorClass.CONFIG: (
        "The connection is not set up correctly",
        "The app credentials or the connection's settings were refused (for example a redirect "
        "URI the app does not list, or credentials meant for another platform).",
        "Tell the person who manages this connection: the details are in the connect "
        "function's log.",
    ),
    ErrorClass.PERMISSION: (
        "The platform did not grant the access needed",
        "The sign-in worked, but a required permission is missing.",
        "Open the link again and grant every permission asked for, or ask the operator to add "
        "the permission to the app.",
    ),
    ErrorClass.REAUTH_REQUIRED: (
        "The platform refused the sign-in",
        "The authorization could not be exchanged for a working token (it may have expired "
        "while the page was open).",
        "Open the link again and sign in once more; it still works because nothing was stored.",
    ),
    ErrorClass.TRANSIENT: (
        "The platform is not answering right now",
        "The platform or AWS did not answer in time.",
        "Open the link again in a few minutes; it still works because nothing was stored.",
    ),
}


def link_page(problem: LinkProblem, clear: str) -> Page:
    status, title, what, todo = _LINK_PAGES[problem]
    return failure(status, title, what, todo, clear)


def error_page(error_class: ErrorClass, clear: str) -> Page:
    title, what, todo = _ERROR_PAGES.get(error_class, _ERROR_PAGES[ErrorClass.CONFIG])
    return failure(502 if error_class is ErrorClass.TRANSIENT else 400, title, what, todo, clear)


def no_flow_page(reason: str, clear: str) -> Page:
    return failure(
        400,
        "This connection has no consent link",
        reason,
        "Tell the person who manages this connection; nothing was changed.",
        clear,
    )


def denied_page(code: str, clear: str) -> Page:
    if code in ("access_denied", "user_denied", "consent_required"):
        return failure(
            403,
            "Access was not granted",
            "You (or the platform) declined the request on the platform's consent screen.",
            "If that was a mistake, open the link again and choose Allow; it still works.",
            clear,
        )
    return failure(
        502,
        "The platform reported an error",
        f"The platform answered the sign-in with the error '{code or 'unknown'}'.",
        "Open the link again; if it happens again, tell the operator.",
        clear,
    )


def different_account_page(expected: str, clear: str) -> Page:
    return failure(
        409,
        "A different account signed in",
        f"This connection belongs to the account '{expected}', but the platform reported "
        "another account (or did not say which). Nothing was stored and the operator was "
        "alerted.",
        "Open the link again and sign in with that account. If the connection should move to a "
        "new account, ask the person who manages this connection for a link that allows it.",
        clear,
    )


def not_stored_page(clear: str) -> Page:
    return failure(
        409,
        "Your consent was not stored",
        "The sign-in worked, but the new authorization could not be saved (for example a "
        "scheduled refresh of this connection ran at the same moment and took precedence). The "
        "connection was not changed, and this link cannot be used again.",
        "Ask the person who manages this connection for a new link.",
        clear,
    )


def not_found_page() -> Page:
    return failure(
        404, "Nothing here", "This address is not a connect link.", "Open the link you were sent."
    )
