"""Form definitions are cached by (form, version): a caller that does not know the version pays
one small query for it, not the definition's JSON; an edit (a new version) is seen at once."""

import copy

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from entry import forms
from entry.forms import form_definition
from storage.builtin_forms import load_builtin_forms
from storage.db import get_engine
from storage.imaging_models import VoucherType
from storage.voucher_types import save_type


def test_a_known_version_reads_nothing_and_an_edit_is_seen_at_once(pg_inline_env) -> None:  # noqa: ANN001
    forms._BY_VERSION.clear()
    engine = get_engine(pg_inline_env["database_url"])
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        statements.append(statement)

    with Session(engine) as session:
        first = form_definition(session, "deposit_slip")  # read in full, then cached
        assert first["form"] == "deposit_slip"
        event.listen(engine, "before_cursor_execute", note)
        try:
            again = form_definition(session, "deposit_slip")
        finally:
            event.remove(engine, "before_cursor_execute", note)
        assert again is first
        assert len(statements) == 1 and "definition" not in statements[0]  # the version only

        edited = copy.deepcopy(load_builtin_forms()["deposit_slip"])
        edited["title"] = "存款凭条（新版）"
        save_type(session, definition=edited, user_id=None)
        session.commit()
        assert form_definition(session, "deposit_slip")["title"] == "存款凭条（新版）"
        version = session.scalar(
            select(VoucherType.version).where(VoucherType.name == "deposit_slip")
        )
        assert (
            form_definition(session, "deposit_slip", version=version)["title"] == "存款凭条（新版）"
        )
        session.rollback()
