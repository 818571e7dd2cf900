"""The module page's API keys and its statistics per queue and day, in headless Chromium on the real
FreePBX: a key added on the page (its token shown once, only its hash stored) and revoked there; the
table of queue 400's figures equal to `stats --json`'s, and the chart drawn as inline SVG bars."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

from selenium.webdriver.common.by import By

from tests.testbed.freepbx.bed import FreePbx
from tests.testbed.wait import wait_for

from . import gui
from .calls import cli, wait_status

KEY = "crm-page-test"


def _page(admin: gui.Admin) -> None:
    admin.open("config.php?display=queuecallback")
    assert not admin.php_errors(), admin.php_errors()


def _key_row(admin: gui.Admin) -> str:
    rows = admin.find(f'tr[data-apikey="{KEY}"]')
    return str(rows[0].get_attribute("class")) if rows else ""


def test_api_keys_are_added_and_revoked_on_the_page(fpbx: FreePbx, admin: gui.Admin) -> None:
    _page(admin)
    form = admin.find("#qcb-apikey-add")
    assert form, f"no form to add a key: {admin.text()[:1500]}"
    boxes = admin.find('#qcb-apikey-add input[name="queues[]"]')
    assert {b.get_attribute("value") for b in boxes} >= {"400", "401"}, "FreePBX's queues are offered"
    admin.find("#qcb-key-name")[0].send_keys(KEY)
    [box] = [b for b in boxes if b.get_attribute("value") == "400"]
    box.click()
    admin.find("#qcb-key-per-minute")[0].send_keys("30")
    admin.find("#qcb-apikey-add button[type=submit]")[0].click()
    admin.wait(lambda: admin.find("#qcb-new-token .qcb-token-value"), 30, "the new key's token")
    assert not admin.find(".qcb-error"), [e.text for e in admin.find(".qcb-error")]
    token = admin.find("#qcb-new-token .qcb-token-value")[0].text.strip()
    assert token.startswith("qcb_") and len(token) > 40, token
    try:
        [listed] = [k for k in cli(fpbx, "apikey", "list") if k["name"] == KEY]
        assert listed["queues"] == ["400"] and listed["per_minute"] == 30, listed
        assert listed["revoked_at"] is None
        [(stored,)] = fpbx.query("SELECT token_hash FROM qcb_api_keys WHERE name = %s", KEY)
        assert stored == hashlib.sha256(token.encode()).hexdigest(), "only the token's hash is stored"
        assert token not in str(fpbx.query("SELECT * FROM qcb_api_keys WHERE name = %s", KEY))
        assert "qcb-active" in _key_row(admin)
        admin.driver.execute_script("document.getElementById('qcb-apikeys-section').scrollIntoView();")
        print("screenshot:", admin.shot("module-page-apikeys.png"))

        # shown once: the next view of the page has the key but not its token
        _page(admin)
        assert admin.find(f'tr[data-apikey="{KEY}"]') and token not in admin.driver.page_source

        # Revoke, confirmed as an admin confirms it
        row = admin.find(f'tr[data-apikey="{KEY}"]')[0]
        row.find_element(By.CSS_SELECTOR, "button.qcb-revoke").click()
        alert = wait_for(lambda: admin.driver.switch_to.alert, 10, 0.2, "the confirm before revoking")
        assert KEY in alert.text, alert.text
        alert.accept()
        admin.wait(lambda: "qcb-revoked" in _key_row(admin), 30, "the key shown as revoked")
        assert not admin.find(f'tr[data-apikey="{KEY}"] button.qcb-revoke')
        assert [k for k in cli(fpbx, "apikey", "list") if k["name"] == KEY] == []
        [revoked] = [k for k in cli(fpbx, "apikey", "list", "--all") if k["name"] == KEY]
        assert revoked["revoked_at"], revoked
    finally:
        if any(k["name"] == KEY for k in cli(fpbx, "apikey", "list")):
            cli(fpbx, "apikey", "revoke", KEY)


def test_the_page_shows_the_figures_per_queue_and_day_with_a_chart(fpbx: FreePbx, admin: gui.Admin) -> None:
    cli(fpbx, "queue", "set", "400", "--enable", "--allow", "_555XXXX")
    window = cli(fpbx, "queue", "show", "400")["window"]
    opened: list[int] = []
    try:
        for number in ("5551297", "5551296"):
            opened.append(int(cli(fpbx, "request", "add", "400", number)["request"]["id"]))
        # the one kept open is called back tomorrow: no dialer tick touches it while the test looks
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        cli(fpbx, "request", "reschedule", "--at", tomorrow, str(opened[1]))
        cli(fpbx, "request", "cancel", str(opened[0]))
        # and one that expires (a 10 s window, nobody free to take it), so the chart has a bar to draw
        cli(fpbx, "queue", "set", "400", "--window", "10")
        opened.append(int(cli(fpbx, "request", "add", "400", "5551295")["request"]["id"]))
        time.sleep(11)
        assert wait_status(fpbx, opened[2], {"expired"}, timeout=40, tick_every=5) == "expired"
        stats = cli(fpbx, "stats")
        today = datetime.now(UTC).date().isoformat()
        [figures] = [d for d in stats["by_queue_and_day"] if d["queue"] == "400" and d["day"] == today]
        assert figures["accepted"] >= 3 and figures["cancelled"] >= 1 and figures["open"] >= 1, figures
        assert figures["expired"] >= 1, figures

        _page(admin)
        table = f'table.qcb-report[data-queue="400"] tr[data-day="{today}"]'
        assert admin.find(table), f"no row for queue 400 today: {admin.text()[:2000]}"
        cells = {c.get_attribute("data-field"): c for c in admin.find(f"{table} td[data-field]")}
        for field in ("accepted", "answered", "failed", "expired", "cancelled", "open"):
            assert cells[field].text == str(figures[field]), (field, cells[field].text, figures)
            assert cells[field].get_attribute("data-value") == str(figures[field])
        for field in ("median_seconds_to_callback", "p90_seconds_to_callback"):
            shown = cells[field].get_attribute("data-value")
            assert (float(shown) if shown else None) == figures[field], (field, shown, figures)
        assert cells["offered"].text == "–"
        assert "offered: not counted" in admin.text(), "the CLI's note about offered"

        days = [d for d in stats["by_queue_and_day"] if d["queue"] == "400"][-14:]
        bars = admin.find('svg.qcb-chart[data-queue="400"] rect.qcb-bar')
        assert len(bars) == 3 * len(days), (len(bars), days)
        drawn = {(b.get_attribute("data-day"), b.get_attribute("data-kind")): b for b in bars}
        for kind in ("answered", "failed", "expired"):
            bar = drawn[(today, kind)]
            assert bar.get_attribute("data-value") == str(figures[kind])
            assert (float(bar.get_attribute("height") or 0) > 0) == (figures[kind] > 0), (kind, figures)
        legend = admin.find('svg.qcb-chart[data-queue="400"] .qcb-legend-item')
        assert len(legend) == 3
        admin.driver.execute_script(
            "document.querySelector('.qcb-report-queue[data-queue=\"400\"]').scrollIntoView();"
        )
        print("screenshot:", admin.shot("module-page-stats-chart.png"))
    finally:
        cli(fpbx, "queue", "set", "400", "--window", str(window))
        for request_id in opened:
            cli(fpbx, "request", "cancel", str(request_id), check=False)
    for request_id in opened:
        [(status,)] = fpbx.query("SELECT status FROM qcb_requests WHERE id = %s", request_id)
        assert status in ("cancelled", "expired"), (request_id, status)
