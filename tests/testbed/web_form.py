"""contrib/web-form: its proxy.py as a process of its own, and the form driven in Chromium as a visitor
fills it in."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.testbed.asterisk import PROJECT_ROOT
from tests.testbed.wait import wait_for

FORM_DIR = PROJECT_ROOT / "contrib" / "web-form"
SHOTS = PROJECT_ROOT / "test-artifacts" / "web-form"


class FormProxy:
    """``python3 contrib/web-form/proxy.py`` on a free loopback port, forwarding to ``api_url``."""

    def __init__(self, api_url: str, token: str, log: Path, queues: str = "") -> None:
        self.env = {
            "QCB_API_URL": api_url,
            "QCB_API_TOKEN": token,
            "QCB_FORM_QUEUES": queues,
            "PATH": "/usr/bin",
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> FormProxy:
        cmd = [sys.executable, str(FORM_DIR / "proxy.py"), "--listen", "127.0.0.1:0"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.url = wait_for(self._url, 15, message=f"the form proxy listening ({self.log})")
        return self

    def _url(self) -> str | None:
        assert self.process is not None and self.process.poll() is None, self.log.read_text()
        found = re.search(r"the form is on (http://\S+/)", self.log.read_text())
        return found.group(1) if found else None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


class Visitor:
    """A visitor of the page that holds the form."""

    def __init__(self, driver: webdriver.Chrome, url: str) -> None:
        self.driver = driver
        driver.get(url)
        wait_for(lambda: driver.execute_script("return document.readyState") == "complete", 30)

    def fill(self, number: str, name: str = "", at: str = "") -> None:
        for field, text in (("number", number), ("name", name)):
            element = self.driver.find_element(By.NAME, field)
            element.clear()
            if text:
                element.send_keys(text)
        # a datetime-local field takes keys in the browser's locale order: set its value as the picker does
        self.driver.execute_script("document.querySelector('[name=at]').value = arguments[0];", at)

    def submit(self) -> tuple[str, str]:
        """Click the button; (data-result, the message shown) once the page says how it went."""
        result = self.driver.find_element(By.CSS_SELECTOR, ".qcb-result")
        self.driver.execute_script("arguments[0].setAttribute('data-result', '')", result)
        self.driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        kind = wait_for(
            lambda: (result.get_attribute("data-result") or "") not in ("", "sending")
            and result.get_attribute("data-result"),
            20,
            message="the form shows a result",
        )
        return str(kind), result.text

    def screenshot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / name
        self.driver.save_screenshot(str(path))
        return path
