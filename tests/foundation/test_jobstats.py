"""Job-duration histograms: one bucket written per job, cumulative counts read back, the same
in process memory (embedded) and in real Redis (shared by worker processes)."""

import uuid

import pytest

from storage.settings import Settings
from workers.jobstats import BUCKETS, read_job_stats, record_job_duration


@pytest.mark.parametrize("where", ["memory", "redis"])
def test_histogram_reads_back_cumulative(where: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("redis_url") if where == "redis" else ""
    settings = Settings(redis_url=url)
    name = f"job_{uuid.uuid4().hex[:6]}"
    for seconds in (0.01, 0.07, 0.07, 3.0, 120.0):
        record_job_duration(name, seconds, settings=settings)
    stats = read_job_stats(settings)[name]
    assert stats["count"] == 5
    assert stats["sum"] == pytest.approx(123.15)
    expected = {0.05: 1, 0.1: 3, 0.25: 3, 2.5: 3, 5.0: 4, 60.0: 4}
    for bucket, count in expected.items():
        assert stats[f"le_{bucket}"] == count
    assert [stats[f"le_{b}"] for b in BUCKETS] == sorted(stats[f"le_{b}"] for b in BUCKETS)
