"""Blob stores: the local folder and S3 through minio against moto's S3 server on loopback."""

import io

import pytest

from storage.blobs import BlobNotFoundError, LocalBlobStore, S3BlobStore, new_blob_key


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, s3_endpoint):  # noqa: ANN001, ANN201
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    return S3BlobStore(endpoint=s3_endpoint, access_key="k", secret_key="s", bucket="vf-blob-test")


def test_blob_store_roundtrip_and_delete(store) -> None:  # noqa: ANN001
    key = new_blob_key("originals")
    assert key.startswith("originals/") and len(key.split("/")) == 5
    store.put_file(key, io.BytesIO(b"\x89PNG data"), 9, "image/png")
    assert store.exists(key)
    assert store.get_bytes(key) == b"\x89PNG data"
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(BlobNotFoundError):
        store.get_bytes(key)
    store.check()


def test_local_blob_store_refuses_escaping_keys(tmp_path) -> None:  # noqa: ANN001
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(ValueError):
        store.put_bytes("../outside", b"x", "text/plain")
