"""Voucher types: the four built-ins are seeded; an admin adds or edits one as JSON, no code."""

import copy

from storage.builtin_forms import load_builtin_forms
from tests.support import login


def test_voucher_types_builtins_listed(client) -> None:  # noqa: ANN001
    r = client.get("/api/voucher-types", headers=login(client, "keyer1"))
    assert r.status_code == 200
    names = {t["name"] for t in r.json()}
    assert names == {"transfer_cheque", "deposit_slip", "wire_transfer", "account_opening"}


def test_voucher_type_admin_creates_and_edits(client) -> None:  # noqa: ANN001
    admin = login(client, "admin")
    new = copy.deepcopy(load_builtin_forms()["deposit_slip"])
    new.update(form="cash_deposit", title="现金存款凭条", serial={"prefix": "CD", "digits": 10})
    r = client.put("/api/voucher-types/cash_deposit", json=new, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1 and not r.json()["builtin"]
    new["title"] = "现金存款凭条(新版)"
    r = client.put("/api/voucher-types/cash_deposit", json=new, headers=admin)
    assert r.json()["version"] == 2
    got = client.get("/api/voucher-types/cash_deposit", headers=admin).json()
    assert got["definition"]["title"] == "现金存款凭条(新版)"


def test_voucher_type_bad_definitions_refused(client) -> None:  # noqa: ANN001
    admin = login(client, "admin")
    base = load_builtin_forms()["transfer_cheque"]
    outside = copy.deepcopy(base)
    outside["fields"][0]["box"] = [150, 70, 50, 20]  # runs off the 175 × 80 mm form
    r = client.put("/api/voucher-types/transfer_cheque", json=outside, headers=admin)
    assert r.status_code == 422 and "not inside" in r.text
    bad_type = copy.deepcopy(base)
    bad_type["fields"][0]["type"] = "colour"
    assert (
        client.put("/api/voucher-types/transfer_cheque", json=bad_type, headers=admin).status_code
        == 422
    )  # noqa: E501
    taken = copy.deepcopy(base)
    taken.update(form="other_cheque")
    r = client.put("/api/voucher-types/other_cheque", json=taken, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["code"] == "prefix_taken"


def test_voucher_type_edit_needs_admin(client) -> None:  # noqa: ANN001
    body = load_builtin_forms()["transfer_cheque"]
    r = client.put(
        "/api/voucher-types/transfer_cheque", json=body, headers=login(client, "supervisor1")
    )  # noqa: E501
    assert r.status_code == 403
