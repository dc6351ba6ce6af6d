"""Streaming multipart reader: files go to temp files as they arrive, hashed, with a byte cap.

Starlette's own form parser would buffer the whole request before the handler runs; here an
upload over the cap is refused as soon as the cap is crossed, without reading the rest.
"""

import hashlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header

from storage.errors import InvalidInputError, PayloadTooLargeError


@dataclass
class ReceivedFile:
    field_name: str
    filename: str
    file: BinaryIO
    size: int = 0
    sha256: str = ""
    _hasher: "hashlib._Hash" = field(default_factory=hashlib.sha256, repr=False)


async def read_files(
    content_type: str,
    chunks: AsyncIterator[bytes],
    *,
    field_name: str,
    max_bytes: int,
    max_files: int,
) -> list[ReceivedFile]:
    ctype, params = parse_options_header(content_type or "")
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise InvalidInputError("请求须为 multipart/form-data", code="not_multipart")
    files: list[ReceivedFile] = []
    state: dict = {"headers": {}, "header_field": b"", "current": None, "error": None}

    def on_part_begin() -> None:
        state["headers"] = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header_field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        name = state["header_field"].lower()
        state["headers"][name] = state["headers"].get(name, b"") + data[start:end]

    def on_header_end() -> None:
        state["header_field"] = b""

    def on_headers_finished() -> None:
        disp, opts = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        filename = opts.get(b"filename")
        if name == field_name and filename is not None:
            if len(files) >= max_files:
                state["error"] = InvalidInputError(
                    f"一次最多上传 {max_files} 个文件", code="too_many_files"
                )
                return
            received = ReceivedFile(
                field_name=name,
                filename=filename.decode("utf-8", "replace")[:200],
                file=tempfile.SpooledTemporaryFile(max_size=2 * 1024 * 1024),
            )
            files.append(received)
            state["current"] = received
        else:
            state["current"] = None

    def on_part_data(data: bytes, start: int, end: int) -> None:
        current: ReceivedFile | None = state["current"]
        if current is None or state["error"]:
            return
        chunk = data[start:end]
        current.size += len(chunk)
        if current.size > max_bytes:
            state["error"] = PayloadTooLargeError(
                f"文件超过大小上限 {max_bytes // (1024 * 1024)} MB",
                details={"max_bytes": max_bytes, "file": current.filename},
            )
            return
        current._hasher.update(chunk)
        current.file.write(chunk)

    def on_part_end() -> None:
        state["current"] = None

    parser = MultipartParser(
        params[b"boundary"],
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in chunks:
            parser.write(chunk)
            if state["error"]:
                raise state["error"]
        parser.finalize()
    except BaseException:
        for f in files:
            f.file.close()
        raise
    for f in files:
        f.sha256 = f._hasher.hexdigest()
        f.file.seek(0)
    if not files:
        raise InvalidInputError("没有收到文件 (multipart field 'files')", code="no_files")
    return files
