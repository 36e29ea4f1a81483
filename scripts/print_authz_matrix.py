"""Print the authorisation matrix (tests/security/authz_matrix.py) as a Markdown table for the README.

    .venv/bin/python scripts/print_authz_matrix.py > /tmp/matrix.md
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.security.authz_matrix import MATRIX, SOCKET_MATRIX  # noqa: E402

HEADER = ("anonymous", "attendee", "other attendee", "author", "other author", "organiser (other day)", "organiser")
SYMBOLS = {"ok": "✓", "gone": "✓", "401": "401", "403": "403", "404": "404", "deny": "403/404"}


def main() -> None:
    print("| call | " + " | ".join(HEADER) + " |")
    print("| --- |" + " --- |" * len(HEADER))
    for (method, rule), entry in sorted(MATRIX.items(), key=lambda item: (item[0][1], item[0][0])):
        cells = " | ".join(SYMBOLS[e] for e in entry.expect)
        print(f"| `{method} {rule.removeprefix('/api/v1')}` | {cells} |")
    for event, expect in SOCKET_MATRIX.items():
        print(f"| Socket.IO `/chat` `{event}` | " + " | ".join(SYMBOLS[e] for e in expect) + " |")


if __name__ == "__main__":
    main()
