"""Gallery search p50/p95 at 5,000 projects / 15,000 posters through the posters API (identity check, query
parsing, one statement for FTS5 bm25 ranking + filters + total + the page's cards, JSON) vs a bare FTS5
MATCH ... ORDER BY rank LIMIT 20 on the same index with the same bm25 weights (the floor). Each query is timed
both ways back to back, the order alternating from one query to the next, so neither side always runs on
caches the other has just warmed and machine noise hits both alike.

    .venv/bin/python bench/bench_posters_search.py [--projects 5000] [--queries 300]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from posters_common import posters_stack, row
from sqlalchemy import text

from services.posters.adapters.orm import PosterRow, ProjectRow, ProjectTheme, ProjectTool
from services.posters.adapters.search import SqliteFtsIndex, terms
from services.posters.service import search_documents
from tests.fixtures.posters.helpers import announce_event, attendee

THEMES = ["Data linkage", "Privacy", "Machine learning", "Clinical trials", "Public health", "Genomics"]
TOOLS = ["Python", "R", "Spark", "SQL", "Power BI", "DataSHIELD", "Stata"]
ORGS = [f"Org {i}" for i in range(40)]


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(size)]


def seed(app, n_projects: int, posters_per_project: int, rng: random.Random, words: list[str]) -> None:  # type: ignore[no-untyped-def]
    def sentence(n: int) -> str:
        return " ".join(rng.choice(words) for _ in range(n))

    db, index = app.extensions["db"], SqliteFtsIndex()
    batch = 500
    for start in range(0, n_projects, batch):
        with db.unit_of_work() as session:
            rows = []
            for i in range(start, min(start + batch, n_projects)):
                project = ProjectRow(
                    event_id=1,
                    owner_id=1000 + i,
                    owner_name=f"Author {i}",
                    title=sentence(6),
                    summary=sentence(40),
                    organisation=(org := rng.choice(ORGS)),
                    organisation_key=org.lower(),
                    region="North",
                    region_key="north",
                    learning_1=sentence(10),
                    learning_2=sentence(10),
                    learning_3=sentence(10),
                    questions=[sentence(8)],
                    authors=[f"Author {i}"],
                    hidden=False,
                )
                project.themes = [ProjectTheme(key=t.lower(), label=t, position=0) for t in rng.sample(THEMES, 2)]
                project.tools = [ProjectTool(key=t.lower(), label=t, position=0) for t in rng.sample(TOOLS, 2)]
                session.add(project)
                rows.append(project)
            session.flush()
            for project in rows:
                for p in range(posters_per_project):
                    session.add(
                        PosterRow(
                            project_id=project.id,
                            event_id=1,
                            owner_id=project.owner_id,
                            kind="pdf",
                            media="poster",
                            position=p,
                            status="ready",
                            file_name="p.pdf",
                            byte_size=1,
                            page_count=4,
                            text=sentence(250),
                            attempts=1,
                        )
                    )
            session.flush()
            for doc in search_documents(session, rows):
                index.upsert(session, doc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=5000)
    parser.add_argument("--posters-per-project", type=int, default=3)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(7)
    words = vocabulary(rng)
    with tempfile.TemporaryDirectory() as tmp, posters_stack(Path(tmp)) as (app, _redis):
        announce_event(app, 1)
        started = time.perf_counter()
        seed(app, args.projects, args.posters_per_project, rng, words)
        print(
            f"seeded {args.projects} projects / {args.projects * args.posters_per_project} posters "
            f"in {time.perf_counter() - started:.1f}s"
        )
        client = app.test_client()
        engine = app.extensions["db"].engine
        bare = SqliteFtsIndex()
        queries = [" ".join(rng.sample(words, rng.choice((1, 1, 2)))) for _ in range(args.queries)]
        ours: list[float] = []
        floor: list[float] = []
        with engine.connect() as conn:
            for q in queries[:20]:  # warm caches for both
                client.get("/api/v1/events/1/posters", query_string={"q": q}, headers=attendee(app))
                conn.execute(bare.bare_query(terms(q), 20)).all()

            def api(q: str, headers: dict[str, str]) -> None:
                t0 = time.perf_counter()
                response = client.get("/api/v1/events/1/posters", query_string={"q": q}, headers=headers)
                ours.append(time.perf_counter() - t0)
                assert response.status_code == 200

            def bare_fts(q: str, _headers: dict[str, str]) -> None:
                t0 = time.perf_counter()
                conn.execute(bare.bare_query(terms(q), 20)).all()
                floor.append(time.perf_counter() - t0)

            for i, q in enumerate(queries):
                headers = attendee(app)  # signed outside the timing, as the gateway does it
                for run in (api, bare_fts) if i % 2 == 0 else (bare_fts, api):
                    run(q, headers)
            hits = conn.execute(text("SELECT count(*) FROM project_fts")).scalar()
    print(f"{args.queries} queries of 1-2 words over {hits} indexed projects (SQLite FTS5)")
    print(row("API search vs bare FTS query", ours, floor))


if __name__ == "__main__":
    main()
