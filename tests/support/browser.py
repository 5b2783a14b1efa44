"""A real headless Chromium (Debian's ``chromium`` + ``chromium-driver``, installed by
``make browser``) driven by Selenium, for the consent flow in the e2e tests and ``make demo``.

The network is closed, so everything Chromium would fetch on its own is switched off, and the
LocalStack host names of Function URLs (``<id>.lambda-url.<region>.localhost.localstack.cloud``)
are mapped to 127.0.0.1. Each page can be saved as a screenshot (``.artifacts/screenshots``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / ".artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=900,760",
    # LocalStack's Function URL host names resolve through public DNS, which is not reachable.
    "--host-resolver-rules=MAP *.localstack.cloud 127.0.0.1",
)


def available() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


class Browser:
    def __init__(self, driver: Any, shots: Path) -> None:
        self.driver = driver
        self.shots = shots
        self.timings: dict[str, float] = {}

    def open(self, url: str) -> None:
        self.driver.get(url)

    @property
    def text(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    @property
    def title(self) -> str:
        return str(self.driver.title)

    @property
    def url(self) -> str:
        return str(self.driver.current_url)

    def click(self, css: str) -> None:
        self.driver.find_element(By.CSS_SELECTOR, css).click()

    def screenshot(self, name: str) -> Path:
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def consent(self, url: str, *, allow: bool = True, shot: str | None = None) -> float:
        """Open a link, continue to the platform, Allow or Deny; returns the seconds it took."""
        started = time.monotonic()
        self.open(url)
        if shot:
            self.screenshot(f"{shot}-1-landing")
        self.click("a.btn")
        if shot:
            self.screenshot(f"{shot}-2-consent")
        self.click("#allow" if allow else "#deny")
        if shot:
            self.screenshot(f"{shot}-3-result")
        return time.monotonic() - started


@contextmanager
def chromium(shots: Path = SCREENSHOTS) -> Iterator[Browser]:
    profile = tempfile.mkdtemp(prefix="tr-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield Browser(driver, shots)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
