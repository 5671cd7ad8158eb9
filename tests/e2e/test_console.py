"""The lab console in a real browser: Debian's Chromium, driven by Playwright, against a real
`scep-lab up` (every party, the console among them, in one process on free loopback ports).

From the page: run a scenario and watch its messages arrive, open its transaction, click a
message and read the decoded CSR subject and the reason it failed; retire a device and watch
the revocation reach the CA and the cloud's report, and the same for a profile unassigned;
draw the trust map; arm and clear a fault.
The screenshots in the README are made here: set SCEP_LAB_SCREENSHOTS to a folder to keep them
(`SCEP_LAB_SCREENSHOTS=docs/console python -m pytest tests/e2e/test_console.py`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from lab.home import load_state
from lab.procs import lab_child, wait_http

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SIZE = {"width": 1400, "height": 900}
WAIT_MS = 60_000

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def console_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("console-lab")
    with lab_child(data, policy="intune", timeout=120):
        state = load_state(data)
        assert state is not None
        url = state.url("console")
        wait_http(f"{url}/api/transactions", timeout=30)
        yield url


@pytest.fixture(scope="module", autouse=True)
def patient_assertions() -> None:
    playwright_api.expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object, console_url: str) -> Iterator[playwright_api.Page]:
    context = browser.new_context(viewport=SIZE)  # type: ignore[attr-defined]
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("dialog", lambda dialog: dialog.accept())
    yield opened
    context.close()
    assert errors == [], f"the page threw: {errors}"


def shot(page: playwright_api.Page, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("SCEP_LAB_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def run_from_page(page: playwright_api.Page, console_url: str, scenario: str) -> str:
    """Start `scenario` with its button; the verdict's text once it is there."""
    page.goto(f"{console_url}/#/scenarios")
    page.locator(f'button.run[data-scenario="{scenario}"]').click()
    verdict = page.locator("#run-verdict")
    playwright_api.expect(verdict).to_contain_text("PASS", timeout=WAIT_MS)
    return verdict.inner_text()


def test_a_refused_enrolment_from_the_scenario_to_the_reason(
    page: playwright_api.Page, console_url: str, tmp_path: Path
) -> None:
    verdict = run_from_page(page, console_url, "intune-impersonation")
    assert "SubjectNameMismatch" in verdict or "refused" in verdict
    # its messages arrive live (the last ones may follow the verdict by a trace poll)
    playwright_api.expect(page.locator("#run-messages")).to_contain_text("PKIOperation")
    playwright_api.expect(page.locator("#run-messages")).to_contain_text("validateRequest")
    shot(page, "scenarios", tmp_path)

    page.locator("a.run-tx").first.click()
    playwright_api.expect(page.locator("svg#sequence g.message").first).to_be_visible()
    lanes = page.locator("svg#sequence").text_content() or ""
    for lane in ("device", "ndes", "policy-module", "connector", "cloud"):
        assert lane in lanes

    page.locator("svg#sequence g.message", has_text="PKIOperation").first.click()
    detail = page.locator("#detail")
    playwright_api.expect(detail).to_contain_text("CN=Administrator")  # the CSR, decoded
    playwright_api.expect(detail.locator("div.explanation")).to_contain_text("E_INVALIDARG")

    page.locator("svg#sequence g.message", has_text="validateRequest").first.click()
    playwright_api.expect(detail.locator("div.explanation")).to_contain_text("SubjectNameMismatch")
    playwright_api.expect(detail).to_contain_text("device_id")  # the claims the cloud read
    shot(page, "transaction", tmp_path)

    page.goto(f"{console_url}/#/transactions")
    rows = page.locator("table#tx-table tr[data-tx]")
    playwright_api.expect(rows.first).to_be_visible()
    page.locator("input#tx-filter").fill("Administrator")
    playwright_api.expect(rows).to_have_count(1)
    playwright_api.expect(rows.first).to_contain_text("SubjectNameMismatch")
    # the device and profile the challenge was for, as the cloud named them handing it out
    playwright_api.expect(rows.first).to_contain_text("LAB-LAPTOP-01")
    playwright_api.expect(rows.first).to_contain_text("Lab device certificate (Windows)")
    page.locator("input#tx-filter").fill("")
    shot(page, "transactions", tmp_path)


def test_the_trust_map(page: playwright_api.Page, console_url: str, tmp_path: Path) -> None:
    page.goto(f"{console_url}/#/trust")
    root = page.locator('svg#trust-map g.cert[data-cert="root-ca"]')
    playwright_api.expect(root).to_be_visible()
    playwright_api.expect(
        page.locator('svg#trust-map g.cert[data-cert="connector-identity"]')
    ).to_be_attached()
    playwright_api.expect(page.locator('div.party[data-party="cloud"]')).to_contain_text("up")
    device = page.locator('div.party[data-party="device"] li.trust')
    assert "trusted certificate profiles" in " ".join(device.all_inner_texts())
    root.click()
    playwright_api.expect(page.locator("#detail")).to_contain_text("CN=Lab Enterprise Root CA")
    shot(page, "trust", tmp_path)


def test_a_fault_armed_and_cleared_from_the_page(
    page: playwright_api.Page, console_url: str, tmp_path: Path
) -> None:
    page.goto(f"{console_url}/#/clock")
    playwright_api.expect(page.locator("#clock-now")).not_to_be_empty()
    page.locator("select#fault-point").select_option("ca-refusing")
    page.locator("button#fault-inject").click()
    armed = page.locator("ul#faults-armed")
    playwright_api.expect(armed).to_contain_text("ca-refusing")
    shot(page, "clock", tmp_path)
    page.locator("button#fault-clear").click()
    playwright_api.expect(armed).not_to_contain_text("ca-refusing")


def test_retire_a_device_and_watch_the_revocation_arrive(
    page: playwright_api.Page, console_url: str, tmp_path: Path
) -> None:
    verdict = run_from_page(page, console_url, "device-certificate")
    serial = next(word for word in verdict.split() if len(word) >= 32).strip(",.").lower()
    page.goto(f"{console_url}/#/intune")
    ca_row = page.locator(f'table#ca-requests tr[data-serial="{serial}"]')
    playwright_api.expect(ca_row.locator("td.status")).to_have_text("issued")
    page.locator('tr[data-device="LAB-LAPTOP-01"] button.retire').click()
    # the cloud marks it, the connector's revocation poll takes it to the CA, the CA revokes
    # and the connector reports back: the page follows without a reload
    playwright_api.expect(ca_row.locator("td.status")).to_have_text("revoked", timeout=WAIT_MS)
    report = page.locator(f'table#report tr[data-serial="{serial}"]')
    playwright_api.expect(report).to_contain_text("revoked", timeout=WAIT_MS)
    shot(page, "intune", tmp_path)
    # and the CA's CRL says so too (not through the console)
    crl = httpx.get(f"{_ca_url(console_url)}/pki/issuing.crl", timeout=10).content
    assert int(serial, 16) in {e.serial_number for e in x509.load_der_x509_crl(crl)}


def _ca_url(console_url: str) -> str:
    lab = httpx.get(f"{console_url}/api/lab", timeout=10).json()
    return str(lab["urls"]["ca"])


def test_unassign_a_profile_and_watch_its_certificate_revoked(
    page: playwright_api.Page, console_url: str
) -> None:
    profile = "Lab user certificate (iOS)"
    run_from_page(page, console_url, "user-certificate")
    page.goto(f"{console_url}/#/intune")
    issued = page.locator("table#report tr[data-serial]", has_text=profile).first
    playwright_api.expect(issued).to_contain_text("installed", timeout=WAIT_MS)
    serial = issued.get_attribute("data-serial")
    assert serial
    page.locator(f'tr[data-profile="{profile}"] button.unassign').click()
    # the cloud revokes what the profile no longer targets, at once; the connector takes it on
    ca_row = page.locator(f'table#ca-requests tr[data-serial="{serial}"]')
    playwright_api.expect(ca_row.locator("td.status")).to_have_text("revoked", timeout=WAIT_MS)
    report = page.locator(f'table#report tr[data-serial="{serial}"]')
    playwright_api.expect(report).to_contain_text("revoked", timeout=WAIT_MS)
