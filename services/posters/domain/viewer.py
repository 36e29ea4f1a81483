"""Who is asking, as the use cases need it (built from the gateway's signed identity by the API layer)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    user_id: int
    display_name: str = ""
    organisation: str = ""
    region: str = ""
    is_author: bool = False
    is_organiser: bool = False

    def owns(self, owner_id: int) -> bool:
        return self.user_id == owner_id
