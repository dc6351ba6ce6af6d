"""Blob store: one interface, two implementations (a local folder; MinIO/S3 via `minio`).

Keys are always made by the server (`originals/2026/11/27/<uuid>`), never from a user's name.
"""

import io
import os
import shutil
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from minio import Minio
from minio.error import S3Error


class BlobNotFoundError(KeyError):
    pass


def new_blob_key(prefix: str, *, suffix: str = "") -> str:
    day = datetime.now(UTC).strftime("%Y/%m/%d")
    return f"{prefix}/{day}/{uuid.uuid4().hex}{suffix}"


class BlobStore(Protocol):
    def put_file(self, key: str, fileobj: BinaryIO, length: int, content_type: str) -> None: ...
    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def check(self) -> None: ...


class LocalBlobStore:
    """Blobs as files under a root folder; writes go to a temp file then rename (atomic)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError("blob key escapes the store")
        return path

    def put_file(self, key: str, fileobj: BinaryIO, length: int, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(fileobj, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.put_file(key, io.BytesIO(data), len(data), content_type)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFoundError(key) from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise OSError(f"blob folder not writable: {self.root}")


class S3BlobStore:
    """MinIO or any S3 endpoint through the `minio` client; the bucket is made if missing."""

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = False,
        region: str = "us-east-1",
    ):
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
        )
        self.bucket = bucket
        self._bucket_ready = False

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        if not self.client.bucket_exists(self.bucket):
            try:
                self.client.make_bucket(self.bucket)
            except S3Error as exc:  # another process made it first
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        self._bucket_ready = True

    def put_file(self, key: str, fileobj: BinaryIO, length: int, content_type: str) -> None:
        self._ensure_bucket()
        self.client.put_object(self.bucket, key, fileobj, length, content_type=content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.put_file(key, io.BytesIO(data), len(data), content_type)

    def get_bytes(self, key: str) -> bytes:
        self._ensure_bucket()
        try:
            response = self.client.get_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise BlobNotFoundError(key) from exc
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def delete(self, key: str) -> None:
        self._ensure_bucket()
        self.client.remove_object(self.bucket, key)

    def exists(self, key: str) -> bool:
        self._ensure_bucket()
        try:
            self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise
        return True

    def check(self) -> None:
        self._bucket_ready = False
        self._ensure_bucket()


def make_blob_store(settings) -> BlobStore:  # noqa: ANN001 - storage.settings.Settings
    if settings.s3_endpoint:
        return S3BlobStore(
            endpoint=settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            bucket=settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
    return LocalBlobStore(settings.effective_blob_dir)
