"""What posters' url_map cannot tell the OpenAPI document (shared.openapi reads `DOCS`): the upload routes take a
multipart `file`, read by uploads.py rather than in the view itself."""

from __future__ import annotations

from shared.openapi import ApiDoc

DOCS: dict[str, ApiDoc] = {
    "posters_uploads.upload_poster": ApiDoc(summary="Upload a poster or the project's video", multipart_file=True),
    "posters_uploads.replace_poster": ApiDoc(summary="Replace a poster's file", multipart_file=True),
}
