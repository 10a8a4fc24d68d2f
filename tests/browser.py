"""Open a page in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def require_chromium() -> None:
    """Skip (fail under CI) when the browser is not installed."""
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        message = "chromium and chromium-driver are not installed (scripts/system-deps.sh installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def inspect_page(html: Path, screenshot: Path) -> dict:
    """Load the page; return console errors, images that did not load, tables without data rows, the rule
    graph's rules and arrowheads."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage", "--disable-sync",
                "--disable-quic", f"--user-data-dir={profile}", "--window-size=1400,2000"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        driver.get(html.resolve().as_uri())
        driver.execute_script("return document.readyState")
        broken = driver.execute_script(
            "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
            ".map(i => i.getAttribute('src'));")
        images = driver.execute_script("return document.images.length;")
        empty = driver.execute_script(
            "return Array.from(document.querySelectorAll('table')).filter(t => t.querySelectorAll('tr').length < 2)"
            ".map(t => t.id || t.className || 'table');")
        tables = driver.execute_script("return document.querySelectorAll('table').length;")
        arrows = driver.execute_script("return document.querySelectorAll('#rulegraph svg g.edge polygon').length;")
        rules = driver.execute_script("return document.querySelectorAll('#rulegraph svg g.node').length;")
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1400, min(int(height), 16000))
        driver.save_screenshot(str(screenshot))
        text = driver.find_element("tag name", "body").text
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return {"errors": errors, "broken_images": broken, "images": images, "empty_tables": empty, "tables": tables,
            "rulegraph_arrows": arrows, "rulegraph_rules": rules, "text": text}
