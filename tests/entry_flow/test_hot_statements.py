"""The keying path's statements, built once, need no rendering at execution time: none holds an
"expanding" parameter (an IN of bound values), which SQLAlchemy renders into the SQL text again
at every execution (it was 15 % of the client time of the live-keys statement)."""

import pytest
from sqlalchemy.dialects import postgresql

from api.sessions import _BY_TOKEN, _USER_BY_TOKEN
from entry import claims, keying_statements
from entry.settlement import LIVE_KEYS

KEYER_KINDS = ("key", "third_key", "whole_voucher")

HOT = {
    "live keys": lambda: LIVE_KEYS,
    "live keys with event": keying_statements._live_keys_statement,
    "record key": keying_statements._record_key_statement,
    "settle": keying_statements._settle_statement,
    "lease": lambda: claims._lease_statement(KEYER_KINDS),
    "slice lease": lambda: claims._slice_lease_statement(KEYER_KINDS),
    "search, window": lambda: claims._search_pg(KEYER_KINDS, True),
    "search, every open task": lambda: claims._search_pg(KEYER_KINDS, False),
    "submitted whole-voucher task": lambda: claims._submitted_task_query(True),
    "submitted slice task": claims._submitted_slice_pg,
    "voucher lock": lambda: claims.voucher_lock_query(True, False),
    "session by token": lambda: _BY_TOKEN,
    "user by token": lambda: _USER_BY_TOKEN,
}


@pytest.mark.parametrize("name", sorted(HOT))
def test_hot_statement_has_no_expanding_parameter(name: str) -> None:
    statement = HOT[name]()
    statement = getattr(statement, "statement", statement)  # a storage.driver.DriverStatement
    sql = str(statement.compile(dialect=postgresql.dialect()))
    assert "POSTCOMPILE" not in sql, name
