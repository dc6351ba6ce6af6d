"""/healthz names what an operator should fix without failing the probe: PostgreSQL running with
autovacuum off (stale statistics, stale plans on the keying path)."""

from types import SimpleNamespace

from sqlalchemy import create_engine, text

from api.routes.ops import database_warnings

WARNING = "autovacuum is off: table statistics go stale and query plans with them"


def test_healthz_answers_ok_and_warns_as_the_server_is_set(client, pg_inline_env) -> None:  # noqa: ANN001
    engine = create_engine(pg_inline_env["database_url"])
    with engine.connect() as conn:
        autovacuum = conn.execute(text("SHOW autovacuum")).scalar_one()
    engine.dispose()
    answer = client.get("/healthz")
    assert answer.status_code == 200, answer.text  # a warning does not fail the probe
    body = answer.json()
    assert body["status"] == "ok"
    assert body["warnings"] == ([] if autovacuum == "on" else [WARNING])


class _Session:
    """Answers SHOW autovacuum with a given setting, on PostgreSQL or SQLite."""

    def __init__(self, dialect: str, autovacuum: str) -> None:
        self._bind = SimpleNamespace(dialect=SimpleNamespace(name=dialect))
        self._autovacuum = autovacuum

    def get_bind(self) -> SimpleNamespace:
        return self._bind

    def execute(self, _statement: object) -> SimpleNamespace:
        return SimpleNamespace(scalar_one=lambda: self._autovacuum)


def test_database_warnings_name_autovacuum_off_on_postgresql_only() -> None:
    assert database_warnings(_Session("postgresql", "off")) == [WARNING]  # type: ignore[arg-type]
    assert database_warnings(_Session("postgresql", "on")) == []  # type: ignore[arg-type]
    assert database_warnings(_Session("sqlite", "off")) == []  # type: ignore[arg-type]
