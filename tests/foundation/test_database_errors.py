"""A database error reaches the client as a JSON error, never as a bare "Internal Server Error",
and the log names the driver's error class without the statement's parameters (customers'
data): here a server pointed at a database nobody migrated."""

import logging

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from storage.settings import Settings


def test_an_unmigrated_database_answers_503_in_json_and_logs_no_parameters(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:  # noqa: ANN001
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'empty.db'}", data_dir=str(tmp_path / "var")
    )
    app = create_app(settings)
    with caplog.at_level(logging.ERROR), TestClient(app, raise_server_exceptions=False) as client:
        r = client.post(
            "/api/auth/login", json={"username": "张三的账户", "password": "secret-word"}
        )
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "database_unavailable"
    logged = "\n".join(f"{rec.getMessage()} {rec.__dict__}" for rec in caplog.records)
    assert "database error" in logged and "OperationalError" in logged
    assert "张三的账户" not in logged and "secret-word" not in logged
