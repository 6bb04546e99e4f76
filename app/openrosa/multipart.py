"""multipart/form-data as OpenRosa phones send it (RFC 7578): one `xml_submission_file` part,
then one part per attachment. The body is already in memory (bounded by
KUMKM_MAX_BODY_BYTES), so splitting it on the boundary is all the parsing there is; a general
streaming parser with spooled files would cost more than the rest of a submission. It runs in
a parse thread (app.openrosa.service.read_submission), not on the event loop."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.errors import INVALID, UNSUPPORTED_MEDIA

_BOUNDARY = re.compile(rb'boundary="?([^";]{1,200})"?', re.IGNORECASE)
# The instance, Collect's *isIncomplete* flag and attachments (all refused): a body of more
# parts than this is no phone's submission, and is not looked at part by part.
MAX_PARTS = 100
_PARAM = re.compile(r'(name|filename)="((?:[^"\\]|\\.)*)"', re.IGNORECASE)


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def check_media_type(content_type: bytes | None) -> bytes:
    """The Content-Type when it is multipart/form-data (checked before the body is read)."""
    if content_type is None or not content_type.lower().startswith(b"multipart/form-data"):
        sent = "tidak ada" if content_type is None else content_type.decode("latin-1")[:100]
        raise UNSUPPORTED_MEDIA(f"Content-Type harus multipart/form-data dengan bagian xml_submission_file (diterima: {sent})")
    return content_type


def parse(content_type: bytes | None, body: bytes, *, complete: bool = True) -> list[Part]:
    """The parts of a body; of its start only when not `complete` (a body read up to a bound):
    then the last part may be cut anywhere, and is left out when its headers are."""
    content_type = check_media_type(content_type)
    m = _BOUNDARY.search(content_type)
    if m is None:
        message = "Content-Type tidak memuat boundary multipart (batas antarbagian)"
        raise INVALID(message, errors=[{"field": "Content-Type", "type": "multipart", "message": message}])
    delimiter = b"--" + m.group(1)
    if body.count(delimiter) > MAX_PARTS + 1:
        message = f"body memuat lebih dari {MAX_PARTS} bagian multipart"
        raise INVALID(message, errors=[{"field": "body", "type": "multipart", "message": message}])
    chunks = body.split(delimiter)
    parts: list[Part] = []
    # chunks[0] is the preamble; a chunk starting with "--" is the close delimiter's epilogue
    for at, chunk in enumerate(chunks[1:], 2):
        if chunk.startswith(b"--"):
            break
        cut = not complete and at == len(chunks)
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep and cut:
            break
        if not sep:
            message = "body memuat bagian multipart tanpa akhir header (baris kosong)"
            raise INVALID(message, errors=[{"field": "body", "type": "multipart", "message": message}])
        if data.endswith(b"\r\n"):
            data = data[:-2]
        name = filename = ctype = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "content-disposition":
                params = {k.lower(): v for k, v in _PARAM.findall(value)}
                name, filename = params.get("name"), params.get("filename")
            elif key == "content-type":
                ctype = value.strip()
        if name is None and cut:
            break
        if name is None:
            message = "body memuat bagian multipart tanpa nama: setiap bagian perlu Content-Disposition: form-data; name=..."
            raise INVALID(message, errors=[{"field": "body", "type": "multipart", "message": message}])
        parts.append(Part(name, filename, ctype, data))
    return parts
