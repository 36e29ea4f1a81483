"""Upload -> ready latency of a 4-page PDF through the posters service (HTTP 202, Redis, 2 Celery worker
processes, deep checks, rendering, storage, search indexing) vs pypdfium2 rendering the same file in-process
(the floor). Uploads are kept two in flight so both workers are busy, as on a real poster deadline.

    .venv/bin/python bench/bench_posters_upload.py [--uploads 40]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

from posters_common import posters_stack, row

from tests.fixtures import posters as files
from tests.fixtures.posters.helpers import announce_event, author, create_project
from tests.support.processes import celery_worker, service_env, wait_until


def render_floor(data: bytes, width: int) -> float:
    """pypdfium2 alone: open, render every page at the preview width, encode PNG. No checks, no storage."""
    import pypdfium2 as pdfium

    start = time.perf_counter()
    pdf = pdfium.PdfDocument(data)
    for page in pdf:
        image = page.render(scale=width / page.get_width()).to_pil()
        image.save(io.BytesIO(), format="PNG")
    pdf.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, posters_stack(Path(tmp), POSTERS_PER_PROJECT=10_000) as (app, redis):
        announce_event(app, 1)
        client = app.test_client()
        project = create_project(client, app)
        var_dir = Path(tmp) / "var"
        workers = [
            celery_worker("posters", service_env(redis.url, var_dir, RATE_LIMITS="off"), Path(tmp), name=f"w{i}")
            for i in range(2)
        ]
        try:
            pdfs = [files.pdf(4, [f"Upload {i} page text about waiting lists"]) for i in range(args.uploads + 2)]
            _wait_ready(app, client, project, pdfs[0], "warm-0.pdf")  # both workers import and warm up
            _wait_ready(app, client, project, pdfs[1], "warm-1.pdf")
            latencies = _run(app, client, project, pdfs[2:])
        finally:
            for w in workers:
                w.stop()
        floor = [render_floor(d, app.config["PREVIEW_WIDTH"]) for d in pdfs[2:]]
    print(
        f"{args.uploads} uploads of a 4-page PDF, 2 workers, 2 in flight; preview width {app.config['PREVIEW_WIDTH']}"
    )
    print(row("upload->ready vs pypdfium2 render", latencies, floor))


def _status(client, app, poster_id: int) -> str:  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/posters/{poster_id}", headers=author(app)).get_json()["status"]


def _upload(client, app, project: int, data: bytes, name: str) -> int:  # type: ignore[no-untyped-def]
    response = client.post(
        f"/api/v1/projects/{project}/posters",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        headers=author(app),
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def _wait_ready(app, client, project: int, data: bytes, name: str) -> None:  # type: ignore[no-untyped-def]
    poster = _upload(client, app, project, data, name)
    wait_until(lambda: _status(client, app, poster) == "ready", timeout=60, what="warm-up poster")


def _run(app, client, project: int, pdfs: list[bytes]) -> list[float]:  # type: ignore[no-untyped-def]
    pending: dict[int, float] = {}
    latencies: list[float] = []
    queue = list(enumerate(pdfs))
    while queue or pending:
        while queue and len(pending) < 2:
            i, data = queue.pop(0)
            start = time.perf_counter()
            pending[_upload(client, app, project, data, f"p{i}.pdf")] = start
        for poster, start in list(pending.items()):
            status = _status(client, app, poster)
            if status != "processing":
                assert status == "ready", status
                latencies.append(time.perf_counter() - start)
                del pending[poster]
        time.sleep(0.005)
    return latencies


if __name__ == "__main__":
    main()
