"""Reading a multipart upload after the caller is authorised, within the size limit, file by file."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect

from core.errors import InvalidInput, PayloadTooLarge
from ingest.jobs import UploadedFile

MAX_FILES = 100  # one upload request


async def read_uploads(
    request: Request, limit: int, field: str = "files"
) -> tuple[list[UploadedFile], dict[str, str]]:
    """The files of `field` and the text fields beside them. Call it only once the caller is known: parsing
    spools the body to disk. A declared or actual size over `limit` is a 413 with nothing kept."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"upload over {limit} bytes; send fewer or smaller files")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput(f"send the files as multipart/form-data, in fields named `{field}`")
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=MAX_FILES)
    except (MultiPartException, ClientDisconnect) as exc:
        raise InvalidInput("the multipart body could not be read") from exc
    uploads = []
    total = 0
    try:
        for item in form.getlist(field):
            if not isinstance(item, StarletteUploadFile):
                raise InvalidInput(f"`{field}` must hold files, not text fields")
            data = await item.read()
            total += len(data)
            if total > limit:
                raise PayloadTooLarge(f"upload over {limit} bytes; send fewer or smaller files")
            uploads.append(UploadedFile(item.filename or "", data))
        fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    finally:
        await form.close()
    return uploads, fields
