"""Validation as the keyer types: every field type refuses bad values with a specific message;
a soft warning needs a confirmation."""

from tests.entry_flow.vouchers import claim, make_voucher, qr_except, submit
from tests.support import login

BAD = [
    ("amount", "12a.5", "format"),
    ("amount", "-5", "range"),
    ("amount", "0", "range"),
    ("date", "20261399", "date_invalid"),
    ("date", "2026/13", "format"),
    ("date_words", "贰零贰陆年壹拾叁月零壹日", "date_invalid"),
    ("date_words", "明天", "format"),
    ("amount_words", "人民币壹万元伍", "format"),
    ("account", "1234", "length"),
    ("account", "62220202001122334a", "format"),
    ("id_number", "1101051949123100", "length"),
    ("id_number", "11010519491231002Y", "format"),
    ("phone", "12345678901", "format"),
    ("phone", "1380013800", "length"),
    ("integer", "abc", "format"),
]


def test_entry_validate_refuses_bad_values(client) -> None:  # noqa: ANN001
    h = login(client, "keyer1")
    for field_type, value, code in BAD:
        r = client.post(
            "/api/entry/validate", json={"field_type": field_type, "value": value}, headers=h
        )
        body = r.json()
        assert r.status_code == 200 and not body["ok"], (field_type, value)
        assert (body["error_code"], bool(body["message"])) == (code, True), (field_type, value)


def test_entry_validate_choice_required_and_warnings(client) -> None:  # noqa: ANN001
    h = login(client, "keyer1")

    def check(**body):  # noqa: ANN003, ANN202
        return client.post("/api/entry/validate", json=body, headers=h).json()

    assert check(field_type="choice", value="支票", choices=["现金", "转账支票"])["error_code"] == (
        "choice"
    )
    assert check(field_type="name", value="", required=True)["error_code"] == "required"
    luhn = check(field_type="account", value="6222 0202 0011 2233 440")
    assert luhn["ok"] and luhn["warning_code"] == "luhn"
    idw = check(field_type="id_number", value="110105194912310021")
    assert idw["ok"] and idw["warning_code"] == "id_check"
    good = check(field_type="date_words", value="20261127")
    assert good["ok"] and good["value"] == "2026-11-27"
    assert check(field_type="amount", value="¥12,345.6")["value"] == "12345.60"


def test_entry_submit_refuses_bad_value_keeps_lease_and_needs_warning_confirmed(
    client, pg_inline_env
) -> None:  # noqa: ANN001
    url = pg_inline_env["database_url"]
    make_voucher(url, client.app.state.blobs, qr=qr_except("deposit_slip", "payer_account"))
    h = login(client, "keyer1")
    task = claim(client, h)
    r = client.post(
        "/api/entry/validate", json={"task_id": task["id"], "value": "12"}, headers=h
    ).json()
    assert r["error_code"] == "length"
    r = submit(client, h, task, "12")
    assert r.status_code == 422 and r.json()["error"]["code"] == "length"
    r = submit(client, h, task, "6222020200112233440")
    assert r.status_code == 422 and r.json()["error"]["code"] == "confirm_warning"
    r = submit(client, h, task, "6222020200112233440", confirm_warning=True)
    assert r.status_code == 200
    r = submit(client, h, task, "6222020200112233440", confirm_warning=True)
    assert r.status_code == 409  # the task is done; a second submission is refused
