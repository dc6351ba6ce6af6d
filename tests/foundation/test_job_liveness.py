"""job_is_live on a real Redis: a queued job is live, a finished or unknown one is not, so an
enqueue with a job id never doubles a job that is waiting or running."""

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from workers.queues import job_is_live


def test_job_liveness_follows_the_status(redis_url) -> None:  # noqa: ANN001
    redis = Redis.from_url(redis_url)
    assert not job_is_live(redis, "posting-nobody")
    job = Queue("liveness", connection=redis).enqueue("builtins.len", "x", job_id="posting-one")
    assert job_is_live(redis, "posting-one")
    for status, live in (
        (JobStatus.STARTED, True),
        (JobStatus.DEFERRED, True),
        (JobStatus.SCHEDULED, True),
        (JobStatus.FINISHED, False),
        (JobStatus.FAILED, False),
        (JobStatus.CANCELED, False),
    ):
        job.set_status(status)
        assert job_is_live(redis, "posting-one") is live, status
    Job.fetch("posting-one", connection=redis).delete()
    assert not job_is_live(redis, "posting-one")
