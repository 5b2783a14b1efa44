"""`make demo`: deploy to LocalStack, seed demo connections, rotate them, and say what happened.

Run by the Makefile after LocalStack is up and the stack is built:
    .venv/bin/python tools/demo.py
Everything goes through AWS APIs on 127.0.0.1 (LocalStack) and the fake provider server.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "core" / "python"), str(ROOT)]

from tests.support import stack  # noqa: E402
from tests.support.localstack import endpoint_url  # noqa: E402

# TR_FAKE_PORT moves the fake provider server off 8900 (two demos, or tests, side by side).
FAKE_PORT = int(os.environ.get("TR_FAKE_PORT", "8900"))
FAKE_URL = f"http://127.0.0.1:{FAKE_PORT}"
FAKE_PID = ROOT / ".localstack" / f"fake-providers-{FAKE_PORT}.pid"
FAKE_LOG = ROOT / ".localstack" / f"fake-providers-{FAKE_PORT}.log"
STACK = "token-refresher"
QUEUE = "token-refresher-demo-alerts"

META_APP = ("token-refresher/apps/demo-meta", "100200300", "demo-meta-app-secret")
MS_APP = ("token-refresher/apps/demo-microsoft", "demo-ms-client", "demo-ms-client-secret")
GOOGLE_APP = ("token-refresher/apps/demo-google", "demo-g-client", "demo-g-client-secret")


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def control(action: str, **body: Any) -> Any:
    request = urllib.request.Request(
        f"{FAKE_URL}/_control/{action}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # nosec B310 # http to loopback
        return json.loads(response.read())


def fake_alive() -> bool:
    try:
        url = f"{FAKE_URL}/_control/requests"
        with urllib.request.urlopen(url, timeout=2):  # nosec B310 # http to loopback
            return True
    except OSError:
        return False


def start_fake_providers() -> None:
    if fake_alive():
        say(f"fake provider server already running on {FAKE_URL}")
        return
    FAKE_PID.parent.mkdir(exist_ok=True)
    with FAKE_LOG.open("ab") as log:
        proc = subprocess.Popen(  # nosec B603 # our own module, fixed args
            [sys.executable, "-m", "tests.support.fake_providers", "--port", str(FAKE_PORT)],
            cwd=ROOT,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    FAKE_PID.write_text(str(proc.pid))
    stack.wait_for(fake_alive, timeout=15, interval=0.2, what="the fake provider server")
    say(f"fake provider server started on {FAKE_URL} (pid {proc.pid})")


def stop_fake_providers() -> None:
    if FAKE_PID.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(FAKE_PID.read_text()), signal.SIGTERM)
        FAKE_PID.unlink()
        print("fake provider server stopped")


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def recreate(sm: Any, name: str, document: dict[str, Any]) -> str:
    try:
        sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        stack.wait_for(lambda: not _exists(sm, name), timeout=10, what=f"{name} deleted")
    except sm.exceptions.ResourceNotFoundException:
        pass
    return stack.create_token_secret(sm, name, document, instance=STACK)


def _exists(sm: Any, name: str) -> bool:
    try:
        sm.describe_secret(SecretId=name)
    except sm.exceptions.ResourceNotFoundException:
        return False
    return True


def seed(sm: Any, instance: str) -> dict[str, dict[str, Any]]:
    """App secrets, fake-provider state and three token secrets; returns the token documents."""
    control("reset")
    now = datetime.now(UTC)
    # Fresh fake token strings every run (never real ones; nothing here is a credential).
    meta_token = f"EAAFakeDemo{secrets.token_hex(8)}"
    ms_access, ms_refresh = f"EwBDemo{secrets.token_hex(6)}", f"M.C5Demo{secrets.token_hex(8)}"
    apps = ((META_APP, "meta"), (MS_APP, "microsoft_ads"), (GOOGLE_APP, "google_ads"))
    for (name, client_id, secret), provider in apps:
        # credentials/binding.py; bound to the demo's instance (app-instances tag)
        stack.create_app_secret(sm, name, client_id, secret, instances=instance, provider=provider)
    control("register_app", provider="meta", client_id=META_APP[1], client_secret=META_APP[2])
    control("seed", provider="meta", access_token=meta_token, expires_in=2 * 86400)
    control("seed", provider="microsoft", access_token=ms_access, refresh_token=ms_refresh)
    demos = {
        "token-refresher/connections/meta-demo": {
            "schema": 1,
            "provider": "meta",
            "kind": "user_long_lived",
            "access_token": meta_token,
            "expires_at": iso(now + timedelta(days=2)),
            "app_secret_id": META_APP[0],
            "options": {"graph_version": "v25.0"},
            "owner": "demo: a Meta long-lived user token, 2 days left",
        },
        "token-refresher/connections/microsoft-demo": {
            "schema": 1,
            "provider": "microsoft_ads",
            "access_token": ms_access,
            "refresh_token": ms_refresh,
            "expires_at": iso(now + timedelta(minutes=5)),
            "app_secret_id": MS_APP[0],
            "owner": "demo: Microsoft Advertising, access token 5 minutes from expiry",
        },
        "token-refresher/connections/google-revoked-demo": {
            "schema": 1,
            "provider": "google_ads",
            "access_token": f"ya29.Demo{secrets.token_hex(6)}",
            "refresh_token": f"1//0gDemo{secrets.token_hex(8)}",
            "expires_at": iso(now + timedelta(minutes=5)),
            "app_secret_id": GOOGLE_APP[0],
            "owner": "demo: a Google refresh token the user revoked (shows the alert path)",
        },
    }
    for name, document in demos.items():
        recreate(sm, name, document)
    return demos


def reconnect(sm: Any, alerts: list[dict[str, Any]]) -> str | None:
    """The revoked Google connection's alert carries a consent link: open it in headless
    Chromium, continue to the (fake) Google consent page, Allow, and wait for status ok."""
    from tests.support import browser

    link = next(
        (e["alert"].get("reconnect_url") for e in alerts if e["alert"].get("reconnect_url")), None
    )
    if link is None:
        say("no alert carried a reconnect link (ConnectEndpoint=false?)")
        return None
    if not browser.available():
        say(f"reconnect link: {link} (install Chromium with `make browser` to click through)")
        return link
    say(f"reconnect link from the alert: {link}")
    say("opening it in headless Chromium: Continue, then Allow on the fake Google consent page")
    with browser.chromium() as chromium:
        seconds = chromium.consent(link, shot="demo-reconnect")
        say(f"the page says: {chromium.text.splitlines()[0]} ({seconds:.1f} s)")
    name = "token-refresher/connections/google-revoked-demo"
    stack.wait_for(
        lambda: stack.tags_of(sm, name).get("token-refresher:status") == "ok",
        timeout=30,
        what="the Google connection to be ok again",
    )
    return link


def main() -> int:
    if sys.argv[1:] == ["stop-fake"]:
        stop_fake_providers()
        return 0
    endpoint = endpoint_url()
    start_fake_providers()
    endpoints = ";".join(
        f"{name}={FAKE_URL}/{prefix}"
        for name, prefix in [
            ("meta", "meta"),
            ("meta_system_user", "meta"),
            ("google_ads", "google"),
            ("microsoft_ads", "microsoft"),
        ]
    )
    say(f"deploying stack {STACK} to LocalStack at {endpoint} (about 30 s)")
    started = time.monotonic()
    outputs = stack.deploy(endpoint, endpoints_json=endpoints, stack_name=STACK)
    say(f"deployed in {time.monotonic() - started:.0f} s: {', '.join(sorted(outputs))}")

    sm = stack.client("secretsmanager", endpoint)
    sqs = stack.client("sqs", endpoint)
    sns = stack.client("sns", endpoint)
    events = stack.client("events", endpoint)
    queue = stack.subscribe_queue(sns, sqs, outputs["AlertTopicArn"], QUEUE)
    stack.receive_alerts(sqs, queue, wait_seconds=0)  # forget alerts from an earlier demo

    demos = seed(sm, outputs["InstanceName"])
    before = {name: document["expires_at"] for name, document in demos.items()}
    say(f"seeded {len(demos)} demo connections")

    say("sending a manual rotation event (the shape of events/put-events-rotate-one.json)")
    detail = {
        "instance": outputs["InstanceName"],  # only that stack's rule matches
        "secret_ids": list(demos),
        "force": True,
        "reason": "make demo",
    }
    events.put_events(
        Entries=[
            {
                "Source": "token-refresher",
                "DetailType": "Token Rotation Requested",
                "Detail": json.dumps(detail),
                "EventBusName": outputs["RequestBusName"],  # the stack's own request bus
            }
        ]
    )

    def settled() -> bool:
        """Each rotation either finished (last-rotated-at tag) or needs a human."""
        for name in demos:
            tags = stack.tags_of(sm, name)
            done = "token-refresher:last-rotated-at" in tags
            if not done and tags.get("token-refresher:status") != "reauth-required":
                return False
        return True

    stack.wait_for(settled, timeout=120, interval=1, what="the rotations to finish")
    alerts = stack.wait_for(
        lambda: stack.receive_alerts(sqs, queue), timeout=30, what="the alert for the revoked token"
    )

    reconnected = reconnect(sm, alerts)

    print()
    print(f"{'connection':<48} {'provider':<14} {'old expiry':<21} {'new expiry':<21} status")
    for name in demos:
        doc = stack.current_document(sm, name)
        status = stack.tags_of(sm, name).get("token-refresher:status", "?")
        changed = doc.get("expires_at") != before[name]
        new = doc.get("expires_at") if changed else "(unchanged)"
        print(f"{name:<48} {doc['provider']:<14} {before[name]:<21} {new:<21} {status}")
    print()
    print(f"alerts delivered to SQS queue {QUEUE}: {len(alerts)}")
    for envelope in alerts:
        alert = envelope["alert"]
        print(
            f"  - {alert['event']} [{alert['severity']}] {alert['secret_id']}: {alert['message']}"
        )
        print(f"    remediation: {alert['remediation']}")
    if reconnected:
        print()
        print(f"reconnect link (from the alert; used by the headless browser above): {reconnected}")
        print("  `token-refresher link token-refresher/connections/google-revoked-demo` prints a")
        print("  fresh one to open yourself (Chromium: map *.localstack.cloud to 127.0.0.1).")
    print()
    print(f"LocalStack is still running at {endpoint}; the stack is '{STACK}'.")
    print("Try the README's manual-rotation commands against it; stop everything with: make stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
