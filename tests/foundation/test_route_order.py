"""The API's routers are included hot ones first (api.app): that is safe only while no two
operations can match the same request, so that the order of routes decides no match."""

import itertools
import re

from starlette.routing import compile_path

from api.app import create_app
from storage.settings import Settings


def test_no_two_api_operations_match_one_request(tmp_path) -> None:  # noqa: ANN001
    app = create_app(Settings(data_dir=str(tmp_path)))
    operations = [
        (path, method.upper(), compile_path(path)[0])
        for path, methods in app.openapi()["paths"].items()
        for method in methods
    ]
    assert len(operations) > 40
    overlapping = [
        (method, p1, p2)
        for (p1, method, r1), (p2, m2, r2) in itertools.combinations(operations, 2)
        if method == m2
        and (r2.match(re.sub(r"\{[^}]+\}", "123", p1)) or r1.match(re.sub(r"\{[^}]+\}", "123", p2)))
    ]
    assert overlapping == []


def test_keying_routes_are_matched_first(tmp_path) -> None:  # noqa: ANN001
    app = create_app(Settings(data_dir=str(tmp_path)))
    prefixes = [getattr(getattr(r, "original_router", None), "prefix", None) for r in app.routes]
    included = [p for p in prefixes if p is not None]
    assert included[:2] == ["/api/entry", "/api/authorization"]
