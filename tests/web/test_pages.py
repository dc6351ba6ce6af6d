"""Page infrastructure without a browser: cookie login, CSRF, role-aware menus, error pages."""

import re

from tests.support import scan_bytes


def page_login(client, username: str, password: str = "demo"):  # noqa: ANN001, ANN201
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )


def csrf_of(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def test_login_sets_httponly_strict_cookie_and_redirects_home(client):  # noqa: ANN001
    r = page_login(client, "teller1")
    assert r.status_code == 303
    assert r.headers["location"] == "/teller/upload"
    cookie = r.headers["set-cookie"].lower()
    assert "vf_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_login_without_csrf_token_is_refused(client):  # noqa: ANN001
    client.get("/login")
    r = client.post(
        "/login",
        data={"username": "teller1", "password": "demo", "csrf_token": "forged"},
        headers={"accept": "text/html"},
    )
    assert r.status_code == 403
    assert "csrf_failed" in r.text


def test_login_wrong_password_shows_message(client):  # noqa: ANN001
    r = page_login(client, "teller1", "nope")
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text


def test_page_without_session_redirects_to_login(client):  # noqa: ANN001
    r = client.get("/teller/vouchers", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=/teller/vouchers")


def test_navigation_follows_roles(client):  # noqa: ANN001
    page_login(client, "keyer1")
    html = client.get("/keyer").text
    assert 'href="/keyer"' in html
    assert 'href="/teller/upload"' not in html and 'href="/authorizer"' not in html


def test_wrong_role_gets_html_403_page(client):  # noqa: ANN001
    page_login(client, "keyer1")
    r = client.get("/authorizer")
    assert r.status_code == 403
    assert 'data-testid="error-page"' in r.text and "role_forbidden" in r.text


def test_unknown_page_is_html_404_and_api_stays_json(client):  # noqa: ANN001
    page_login(client, "teller1")
    assert "error-page" in client.get("/no/such/page").text
    r = client.get("/api/no/such", headers={"accept": "application/json"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_cookie_api_post_needs_csrf_header(client):  # noqa: ANN001
    page_login(client, "teller1")
    files = {"files": ("a.png", scan_bytes(1), "image/png")}
    r = client.post("/api/vouchers", files=files)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    token = csrf_of(client.get("/teller/upload").text)
    r = client.post("/api/vouchers", files=files, headers={"X-CSRF-Token": token})
    assert r.status_code == 201, r.text


def test_logout_revokes_the_session(client):  # noqa: ANN001
    page_login(client, "teller1")
    token = csrf_of(client.get("/teller/upload").text)
    old = client.cookies.get("vf_session")
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.set("vf_session", old)
    assert client.get("/api/auth/me").status_code == 401


def test_language_switch_to_english(client):  # noqa: ANN001
    page_login(client, "teller1")
    client.get("/lang/en?next=/teller/upload")
    assert "Upload voucher scans" in client.get("/teller/upload").text
    r = client.get("/lang/zh?next=//evil.example", follow_redirects=False)
    assert r.headers["location"] == "/"


def test_teller_cannot_open_another_branch_voucher(client):  # noqa: ANN001
    page_login(client, "teller2")
    token = csrf_of(client.get("/teller/upload").text)
    files = {"files": ("a.png", scan_bytes(2), "image/png")}
    vid = client.post("/api/vouchers", files=files, headers={"X-CSRF-Token": token}).json()[
        "results"
    ][0]["voucher_id"]
    assert client.get(f"/vouchers/{vid}").status_code == 200
    client.cookies.clear()
    page_login(client, "teller1")
    assert client.get(f"/vouchers/{vid}").status_code == 404
    assert vid not in client.get("/teller/vouchers").text
