"""All configuration, read once from the environment (prefix VOUCHERFLOW_) and an optional .env.

With nothing set the product runs embedded: SQLite, a local blob folder, jobs in-process.
"""

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOUCHERFLOW_", env_file=".env", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file under data_dir
    redis_url: str = ""  # empty: jobs run in-process
    blob_dir: Path | None = None  # local blob folder; default data_dir/blobs
    s3_endpoint: str = ""  # host:port; set to use MinIO/S3 instead of the folder
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "voucherflow"
    s3_secure: bool = False
    s3_region: str = "us-east-1"

    max_upload_bytes: int = 20 * 1024 * 1024
    max_files_per_upload: int = 50
    # Vouchers are at most A5 at 300 dpi (~2500 x 1750 px); 40 MP leaves room for A4 at 600 dpi
    # while refusing decompression bombs long before Pillow's own 89 MP warning.
    max_image_pixels: int = 40_000_000
    token_ttl_hours: int = 12
    demo_password: str = "demo"
    evoucher_key: str = "demo-evoucher-key-not-for-production"
    inline_jobs_sync: bool = False  # embedded mode: run jobs in the request thread (tests)
    job_timeout_s: int = 600
    reconcile_after_s: int = 60  # a voucher untouched this long in intake is checked
    job_heartbeat_stale_s: int = 90  # a started job with no heartbeat this long is abandoned
    worker_monitoring_interval_s: int = 30  # how often a worker heartbeats its running job
    log_level: str = "INFO"
    # Threads per API process for handlers that wait on the database. Under the GIL more threads
    # add contention, not throughput: bench/entry.py measured 27 ms of server CPU per
    # next + submit with 10 in flight against 21 ms with 3.
    api_threads: int = 4
    # Authorization and posting.
    authorization_lease_s: int = 300  # a claimed task returns to the queue after this
    sla_escalation_boost: int = 100  # priority added to a task whose SLA deadline passed
    core_url: str = ""  # core banking base URL; empty: the built-in simulated core, in-process
    core_timeout_s: float = 5.0  # past this the posting outcome is unknown: ask before retrying
    core_auto_open_accounts: bool = False  # demo only: open a Luhn-valid unknown account
    core_auto_open_balance: str = "1000000.00"  # opening balance of auto-opened demo accounts
    posting_reconcile_after_s: int = 30  # an outbox row untouched this long is re-enqueued
    # Automatic verification.
    # Master key (any string; SHA-256 of it is the AES-256-GCM key) for payment-password keys.
    # DEMO DEFAULT, NOT FOR PRODUCTION: set VOUCHERFLOW_PAYMENT_KEY_MASTER from a secret store.
    payment_key_master: str = "demo-payment-key-master-NOT-FOR-PRODUCTION"
    seal_pass_at: float = 0.83  # seal likeness at or above: pass (docs/decisions-verification.md)
    seal_fail_below: float = 0.60  # below: fail; between: manual
    business_hours: str = "08:30-17:30"  # Asia/Shanghai; submissions outside are flagged
    business_timezone: str = "Asia/Shanghai"
    cheque_valid_days: int = 10  # a cheque older than this (from its issue date) is stale
    amount_outlier_factor: float = 5.0  # amount above this x the account's 90-day median
    amount_outlier_min_samples: int = 5
    velocity_max_vouchers: int = 5  # this many vouchers for one account ...
    velocity_window_minutes: int = 10  # ... within this many minutes is flagged
    near_duplicate_max_distance: int = 4  # dHash Hamming distance for a near-identical image

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'voucherflow.db').resolve()}"

    @property
    def effective_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def embedded_jobs(self) -> bool:
        return not self.redis_url


@lru_cache
def get_settings() -> Settings:
    return Settings()
