"""Every response carries a request id, and every request is counted in /metrics."""

import uuid


def test_request_id_is_echoed_or_made(client) -> None:  # noqa: ANN001
    given = uuid.uuid4().hex
    r = client.get("/healthz", headers={"X-Request-ID": given})
    assert r.headers["X-Request-ID"] == given
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32 and made != given


def test_requests_are_counted_by_route_and_status(client) -> None:  # noqa: ANN001
    client.get("/healthz")
    r = client.post("/api/auth/login", json={"username": "nobody", "password": "x"})
    assert r.status_code == 401
    assert "X-Request-ID" in r.headers
    metrics = client.get("/metrics").text
    assert 'voucherflow_http_requests_total{method="GET",route="/healthz",status="200"}' in metrics
    assert (
        'voucherflow_http_requests_total{method="POST",route="/api/auth/login",status="401"}'
        in metrics
    )
