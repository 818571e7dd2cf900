"""FreePBX's admin pages in headless Chromium (selenium + Debian's chromedriver), as an admin uses them."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-artifacts" / "freepbx" / "screenshots"


def available() -> str | None:
    """Why the browser cannot run here, or None."""
    if not Path(CHROMEDRIVER).exists() or not Path(CHROMIUM).exists():
        return "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
    return None


class Admin:
    """A logged-in FreePBX admin session."""

    def __init__(self, base: str, user: str = "admin", password: str = "admin") -> None:
        self.base = base
        self.profile = tempfile.mkdtemp(prefix="qcb-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1400,1800",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            f"--user-data-dir={self.profile}",
        ):
            options.add_argument(arg)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(90)
        self.login(user, password)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    # ---------------------------------------------------------------- basics

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)
        self.wait(
            lambda: self.driver.execute_script("return document.readyState") == "complete", 60, "page load"
        )

    def wait(self, ok: Callable[[], object], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                if ok():
                    return
            except WebDriverException as exc:
                last = exc
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what} ({last}); page: {self.text()[:800]}")

    def text(self) -> str:
        try:
            return str(self.driver.find_element(By.TAG_NAME, "body").text)
        except WebDriverException:
            return ""

    def find(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / name
        self.driver.save_screenshot(str(path))
        return path

    def php_errors(self) -> list[str]:
        words = ("Fatal error", "Warning:", "Uncaught", "Exception", "Undefined", "Deprecated:")
        return [line for line in self.text().splitlines() if any(w in line for w in words)]

    def login(self, user: str, password: str) -> None:
        self.open("config.php")
        if self.find("#loginform"):
            self.driver.execute_script(
                "var f=document.getElementById('loginform');f.username.value=arguments[0];"
                "f.password.value=arguments[1];f.submit();",
                user,
                password,
            )
            self.wait(lambda: not self.find("#loginform input[name=username]"), 30, "login")
        # FreePBX's first-login pages (default locales...): submit them with their preselected values
        for _ in range(6):
            self.open("config.php")
            if "default locales" not in self.text():
                break
            buttons = [
                b
                for b in self.driver.find_elements(
                    By.XPATH,
                    "//*[self::button or self::input][normalize-space(.)='Submit' or @value='Submit']",
                )
                if b.is_displayed()
            ]
            assert buttons, f"a first-login page without a submit button: {self.text()[:500]}"
            buttons[0].click()
            time.sleep(1)
        assert "default locales" not in self.text(), "FreePBX's first-login page did not go away"

    # ---------------------------------------------------------------- FreePBX idioms

    def submit_queue_form(self) -> None:
        self.driver.execute_script("document.querySelector('form.fpbx-submit[name=editQ]').submit();")
        self.wait(
            lambda: self.driver.execute_script("return document.readyState") == "complete", 60, "queue saved"
        )

    def open_tab(self, title_part: str) -> None:
        tabs = [a for a in self.find(".nav-tabs a") if title_part.lower() in a.text.lower()]
        assert tabs, f"no tab {title_part!r}; tabs: {[a.text for a in self.find('.nav-tabs a')]}"
        tabs[0].click()
        time.sleep(0.5)

    def delete_from_action_bar(self) -> None:
        """The form's red Delete button, confirmed as an admin confirms it."""
        buttons = [b for b in self.find("#delete") if b.is_displayed()]
        assert buttons, f"no Delete button: {self.text()[:500]}"
        before = self.driver.current_url
        buttons[0].click()
        with contextlib.suppress(NoAlertPresentException):
            self.driver.switch_to.alert.accept()
        self.wait(lambda: self.driver.current_url != before, 30, "the delete to go through")
        self.wait(
            lambda: self.driver.execute_script("return document.readyState") == "complete", 60, "page load"
        )

    def apply_config(self) -> None:
        """Click the red Apply Config button and wait until FreePBX says the reload is done."""
        self.wait(
            lambda: any(b.is_displayed() for b in self.find("#button_reload")), 30, "the Apply Config button"
        )
        self.find("#button_reload")[0].click()
        self.wait(
            lambda: not any(b.is_displayed() for b in self.find("#button_reload")), 180, "Apply Config done"
        )

    # ---------------------------------------------------------------- Module Admin

    def upload_module(self, tarball: Path, shot: str | None = None) -> str:
        """Admin → Module Admin → "Upload modules" → Upload (From Hard Disk) with a local tarball; returns
        the page's answer."""
        self.open("config.php?display=modules")
        buttons = [b for b in self.find("input[type=button]") if b.get_attribute("value") == "Upload modules"]
        assert buttons, f"no Upload modules button: {self.text()[:800]}"
        buttons[0].click()
        self.wait(lambda: self.find("#local-type"), 30, "the upload page")
        Select(self.find("#local-type")[0]).select_by_value("upload")
        self.find("input[type=file][name=uploadmod]")[0].send_keys(str(tarball))
        if shot:
            self.shot(shot)
        self.find("#upload")[0].click()
        self.wait(
            lambda: "uploaded successfully" in self.text() or "error(s) occurred" in self.text(),
            300,
            "the upload to finish",
        )
        return self.text()

    def install_module(self, rawname: str, timeout: float = 600, shot: str | None = None) -> str:
        """Module Admin's own flow for a local module: open its row, Action "Install", Process, Confirm;
        waits for the progress dialog to finish and returns what it printed."""
        self.open("config.php?display=modules")
        row = self.find(f"#fullmodule_{rawname}")
        assert row, f"{rawname} is not in Module Admin's list: {self.text()[:800]}"
        row[0].click()
        label = f"label[for=install_{rawname}]"
        self.wait(lambda: any(x.is_displayed() for x in self.find(label)), 20, f"{rawname}'s Install action")
        self.find(label)[0].click()
        process = [b for b in self.find("input[type=submit][name=process]") if b.is_displayed()]
        assert process, "no Process button"
        process[0].click()
        self.wait(lambda: "Please confirm the following actions" in self.text(), 60, "the confirm page")
        assert "will be installed and enabled" in self.text(), self.text()[:1500]
        if shot:
            self.shot(shot)
        confirm = [b for b in self.find("input[name=process]") if b.get_attribute("value") == "Confirm"]
        assert confirm, "no Confirm button"
        confirm[0].click()

        def finished() -> bool:
            box = self.find("#moduledialogwrapper")
            if not box:
                return False
            shown = box[0].text
            return any(a.text == "Return" for a in box[0].find_elements(By.TAG_NAME, "a")) or (
                "Whoops" in shown or "Stack frames" in shown
            )

        self.wait(finished, timeout, f"Module Admin to install {rawname}")
        return str(self.find("#moduledialogwrapper")[0].text)

    def close_module_dialog(self) -> None:
        """The progress dialog's Return link: back to Module Admin, as an admin leaves it."""
        links = [a for a in self.find("#moduledialogwrapper a") if a.text == "Return"]
        assert links, "no Return link in the dialog"
        links[0].click()
        self.wait(lambda: not self.find("#moduledialogwrapper"), 60, "the dialog to close")
        self.wait(
            lambda: self.driver.execute_script("return document.readyState") == "complete", 60, "page load"
        )
