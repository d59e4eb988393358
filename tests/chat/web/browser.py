"""Headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium.

Selenium is pointed at ``/usr/bin/chromedriver`` explicitly, so Selenium Manager never
tries to download a browser or driver.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--disable-extensions", "--disable-default-apps",
    "--hide-scrollbars", "--mute-audio",
)


def missing() -> str | None:
    """Why a browser cannot run here, or None if it can."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists():
            return (f"{path} not found: install Debian's {package} package "
                    "(apt-get install chromium chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


@contextmanager
def chromium(width: int = 1100, height: int = 720, *, flags: tuple[str, ...] = ()) -> Iterator[Any]:
    """A fresh headless Chromium (its own profile directory) of the given window size,
    with ``flags`` added to the usual ones."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="netsuite-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, *flags):
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={width},{height}")
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        # The exact viewport (headless windows have a 500 px minimum width), and a
        # phone's touch and device-pixel ratio when narrow.
        phone = width < 600
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 2 if phone else 1,
            "mobile": phone})
        try:
            yield driver
        finally:
            driver.quit()


def wait_until(driver: Any, condition: Callable[[Any], Any], timeout: float = 10,
               what: str = "condition") -> Any:
    """Wait (polling the DOM, no fixed sleep) until ``condition(driver)`` is truthy."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        condition, message=f"timed out waiting for {what}")


def texts(driver: Any, selector: str) -> list[str]:
    """The text of every element matching the CSS ``selector`` (one script call)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent)",
        selector)
