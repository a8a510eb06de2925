"""The browser example in a real headless Chromium: login, CSRF, silent refresh, logout, reuse.

Debian's ``chromium`` and ``chromium-driver`` drive the page over WebDriver
(``.ci/run`` installs them). The attacker page is served from another port of
127.0.0.1: another origin, but the same site, so the browser sends the cookies
along, and only the CSRF check stands between the attacker and the API.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .helpers import http_request
from .test_examples import load

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        if os.environ.get("JWT_WSGI_REQUIRE_BROWSER"):
            pytest.fail("chromium is required here (JWT_WSGI_REQUIRE_BROWSER is set)")
        pytest.skip("no chromium/chromedriver on this machine (.ci/run installs Debian's)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="jwt_wsgi-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ACCESS_SECONDS", "2")
    monkeypatch.setenv("REFRESH_GRACE", "1")
    return load("browser_app")


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the page did not get there in time")
        time.sleep(0.05)


def sign_in(driver: Any, url: str, user: str = "alice", password: str = "wonderland") -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(url)
    wait_for(lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "out")
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "sign-in").click()
    wait_for(lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "in")


def body(driver: Any, attribute: str) -> str | None:
    from selenium.webdriver.common.by import By

    value: str | None = driver.find_element(By.TAG_NAME, "body").get_attribute(attribute)
    return value


def notes_on_page(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#notes li")]


def add_note(driver: Any, text: str) -> None:
    from selenium.webdriver.common.by import By

    before = body(driver, "data-loaded")
    field = driver.find_element(By.ID, "note")
    field.clear()
    field.send_keys(text)
    driver.find_element(By.ID, "save").click()
    wait_for(lambda: body(driver, "data-loaded") != before)


def test_sign_in_and_use_the_api_with_cookies_and_csrf(
    browser: Any, example: Any, serve: Any
) -> None:
    url = serve(example.application)
    sign_in(browser, url)
    cookies = {c["name"]: c for c in browser.get_cookies()}
    assert cookies["access_token"]["httpOnly"] and cookies["refresh_token"]["httpOnly"]
    assert not cookies["csrf_access_token"]["httpOnly"]
    assert cookies["access_token"]["sameSite"] == "Strict" and cookies["access_token"]["secure"]
    # JavaScript cannot read the tokens, only the CSRF values.
    visible = browser.execute_script("return document.cookie")
    assert "access_token=" not in visible.replace("csrf_access_token=", "")
    add_note(browser, "buy milk")
    assert notes_on_page(browser) == ["buy milk"]
    assert example.notes["alice"] == ["buy milk"]


def attacker_site(target: str) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    """A page on another origin that tries to make the victim's browser add a note."""
    page = f"""<!doctype html><html><body>
<form id="f" method="POST" action="{target}/api/notes" enctype="text/plain">
  <input name='{{"text": "pwned by form", "x": "' value='"}}'>
</form>
<script>
fetch("{target}/api/notes", {{method: "POST", credentials: "include", mode: "no-cors",
  headers: {{"Content-Type": "text/plain"}}, body: '{{"text": "pwned by fetch"}}'}})
  .finally(() => {{ document.body.dataset.fetched = "1"; document.getElementById("f").submit(); }});
</script></body></html>""".encode()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        return [page]

    return app


def test_another_site_cannot_change_state(browser: Any, example: Any, serve: Any) -> None:
    url = serve(example.application)
    sign_in(browser, url)
    add_note(browser, "mine")
    evil = serve(attacker_site(url))
    browser.get(evil)
    # The form navigates the browser to our API's answer: a CSRF refusal.
    wait_for(lambda: "csrf_failed" in browser.page_source)
    assert example.notes["alice"] == ["mine"]  # neither the form nor the fetch got in


def page(html: str) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
    """An app serving one HTML page: the attacker's."""
    body = f"<!doctype html><html><body>{html}</body></html>".encode()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        return [body]

    return app


def signed_in_as(driver: Any, url: str) -> str | None:
    """Who the app's own page says is signed in, after loading it afresh."""
    from selenium.webdriver.common.by import By

    driver.get(url)
    wait_for(lambda: body(driver, "data-state") in ("in", "out"))
    if body(driver, "data-state") == "out":
        return None
    who: str = driver.find_element(By.ID, "who").text
    return who.removeprefix("Signed in as ")


def test_login_csrf_another_site_cannot_sign_the_victim_into_its_account(
    browser: Any, example: Any, serve: Any
) -> None:
    """A page on another site (localhost is another site than 127.0.0.1) posts a plain
    form with the attacker's own refresh token: SameSite keeps the victim's refresh
    cookie off it, and the answer would set the session cookies (RFC 6749 10.12)."""
    url = serve(example.application)
    sign_in(browser, url)
    add_note(browser, "mine")
    attackers = example.minter.mint_pair("bob").refresh_token  # bob's own login
    evil = serve(
        page(f"""<form id="f" method="POST" action="{url}/auth/refresh">
  <input type="hidden" name="refresh_token" value="{attackers}"></form>
<script>document.getElementById("f").submit();</script>""")
    )
    browser.get(evil.replace("127.0.0.1", "localhost"))
    # The form navigates the browser to the refresh endpoint's answer: a CSRF refusal.
    wait_for(lambda: "csrf_failed" in browser.page_source)
    assert signed_in_as(browser, url) == "alice"
    assert example.notes["alice"] == ["mine"] and "bob" not in example.notes


def test_logout_csrf_an_image_on_a_sibling_page_does_not_log_out(
    browser: Any, example: Any, serve: Any
) -> None:
    """Another origin of the same site (so SameSite sends the cookies) shows an image
    whose URL is the logout endpoint: a GET, which changes nothing."""
    url = serve(example.application)
    sign_in(browser, url)
    token = {c["name"]: c["value"] for c in browser.get_cookies()}["access_token"]
    evil = serve(
        page(f"""<img id="i" src="{url}/auth/logout"
  onerror="document.body.dataset.done = 1" onload="document.body.dataset.done = 1">""")
    )
    browser.get(evil)
    wait_for(lambda: body(browser, "data-done") == "1")
    assert signed_in_as(browser, url) == "alice"
    assert http_request(url, "/api/notes", headers={"Cookie": f"access_token={token}"})[0] == 200


def test_an_expired_access_token_is_refreshed_silently(
    browser: Any, example: Any, serve: Any
) -> None:
    from selenium.webdriver.common.by import By

    url = serve(example.application)
    sign_in(browser, url)
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    old_refresh, old_csrf = cookies["refresh_token"], cookies["csrf_refresh_token"]
    time.sleep(2.5)  # the access token (2 s) has expired
    before = body(browser, "data-loaded")
    browser.find_element(By.ID, "reload").click()
    wait_for(lambda: body(browser, "data-loaded") != before)
    assert body(browser, "data-refreshes") == "1" and body(browser, "data-state") == "in"
    new_refresh = {c["name"]: c["value"] for c in browser.get_cookies()}["refresh_token"]
    assert new_refresh != old_refresh  # rotated

    # A copy of the old refresh token (and its CSRF value, which a thief reads
    # from the token itself), replayed after the grace, ends the login.
    time.sleep(1.2)  # past the grace (1 s here)
    status, _, answer = http_request(
        url,
        "/auth/refresh",
        method="POST",
        headers={"Content-Type": "application/json", "X-CSRF-Token": old_csrf},
        body=json.dumps({"refresh_token": old_refresh}).encode(),
    )
    assert status == 401 and json.loads(answer)["error"] == "invalid_token"
    time.sleep(2.5)
    browser.find_element(By.ID, "reload").click()
    wait_for(lambda: body(browser, "data-state") == "out")  # the browser's session too


def test_logout_ends_the_session(browser: Any, example: Any, serve: Any) -> None:
    from selenium.webdriver.common.by import By

    url = serve(example.application)
    sign_in(browser, url)
    token = {c["name"]: c["value"] for c in browser.get_cookies()}["access_token"]
    browser.find_element(By.ID, "logout").click()
    wait_for(lambda: body(browser, "data-state") == "out")
    names = {c["name"] for c in browser.get_cookies()}
    assert not names & {"access_token", "refresh_token", "csrf_access_token"}
    # The token itself is revoked, not only forgotten by the browser.
    status = http_request(url, "/api/notes", headers={"Cookie": f"access_token={token}"})[0]
    assert status == 401


def test_dpop_from_the_browser_with_a_webcrypto_key(browser: Any, serve: Any) -> None:
    """The DPoP example in Chromium: WebCrypto makes the key and signs every proof
    (a third, independent JOSE implementation); nonces, replay and downgrade."""
    example = load("dpop_app")
    built: list[Any] = []
    url = serve(lambda environ, start_response: built[0](environ, start_response))
    built.append(example.create_app(url))
    browser.get(url + "/")
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "dpopDemo().then(done, (error) => done({failed: String(error)}));"
    )
    assert "failed" not in result, result
    assert (result["tokenStatus"], result["tokenType"]) == (200, "DPoP")
    # The server's thumbprint of the key is the one the browser computed (RFC 7638).
    assert result["meStatus"] == 200
    assert result["me"] == {"sub": "alice", "jkt": result["jkt"]}
    assert result["replayStatus"] == 401
    assert result["replay"]["error_description"] == "the DPoP proof was already used"
    assert result["replayChallenge"].startswith('DPoP realm="api", error="invalid_dpop_proof"')
    assert result["bearerStatus"] == 401
    assert result["bearer"]["error_description"] == (
        "a DPoP-bound token must be sent with the DPoP scheme and a proof"
    )
