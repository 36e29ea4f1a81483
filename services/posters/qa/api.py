"""HTTP entrypoints of project Q&A: list, ask, upvote, answer. The asker's name follows `domain.shows_asker`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from flask import Blueprint, jsonify
from pydantic import BaseModel, Field

from services.posters.domain.viewer import Viewer
from services.posters.http import register_errors, viewer
from services.posters.presenters import iso
from services.posters.qa import domain, service
from services.posters.qa.models import QuestionRow
from shared.auth import require_identity
from shared.errors import ApiError
from shared.openapi import api_doc
from shared.service_app import db
from shared.validation import Strict, parse_json

bp = Blueprint("posters_qa", __name__, url_prefix="/api/v1")
register_errors(bp)


@bp.errorhandler(domain.QaRuleError)
def _rule(exc: domain.QaRuleError):  # type: ignore[no-untyped-def]
    err = ApiError(400, "invalid", str(exc), exc.field)
    return jsonify(err.body()), err.status


# Emptiness and length are checked after normalising (domain.clean_text); max_length keeps huge bodies out early.
class NewQuestion(Strict):
    text: Annotated[str, Field(max_length=domain.QUESTION_MAX_CHARS)]
    anonymous: bool = False


class AnswerBody(Strict):
    text: Annotated[str, Field(max_length=domain.ANSWER_MAX_CHARS)]


class Asker(BaseModel):
    id: int
    name: str


class Question(BaseModel):
    id: int
    project_id: int
    text: str
    anonymous: bool
    asker: Asker | None = Field(description="null when the question is anonymous to the caller")
    mine: bool
    can_delete: bool = Field(description="the asker and organisers may delete a question")
    upvotes: int
    upvoted: bool
    answer: str | None
    answered_at: datetime | None
    asked_at: datetime


class QuestionList(BaseModel):
    project_id: int
    can_answer: bool
    can_ask: bool
    items: list[Question]


class Upvote(BaseModel):
    question_id: int
    upvotes: int
    upvoted: bool


def question_json(row: QuestionRow, me: Viewer, upvoted: bool) -> dict[str, object]:
    audience = domain.Audience(user_id=me.user_id, is_organiser=me.is_organiser)
    shown = domain.shows_asker(row.anonymous, row.asker_id, audience)
    return {
        "id": row.id,
        "project_id": row.project_id,
        "text": row.text,
        "anonymous": row.anonymous,
        "asker": {"id": row.asker_id, "name": row.asker_name} if shown else None,
        "mine": row.asker_id == me.user_id,
        "can_delete": domain.may_delete(row.asker_id, me.user_id, me.is_organiser),
        "upvotes": row.upvotes,
        "upvoted": upvoted,
        "answer": row.answer,
        "answered_at": iso(row.answered_at),
        "asked_at": iso(row.created_at),
    }


@bp.get("/projects/<int:project_id>/questions")
@require_identity()
@api_doc(summary="A project's questions, most upvoted first", response=QuestionList)
def list_questions(project_id: int):  # type: ignore[no-untyped-def]
    me = viewer()
    project, questions = service.list_questions(db(), me, project_id)
    return jsonify(
        {
            "project_id": project.id,
            "can_answer": me.owns(project.owner_id),
            "can_ask": domain.may_ask(project.owner_id, me.user_id),
            "items": [question_json(q.row, me, q.upvoted_by_me) for q in questions],
        }
    )


@bp.post("/projects/<int:project_id>/questions")
@require_identity()
@api_doc(summary="Ask the project's author a question", body=NewQuestion, response=Question, status=201)
def ask_question(project_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(NewQuestion)
    me = viewer()
    row = service.ask(db(), me, project_id, body.text, body.anonymous)
    return jsonify(question_json(row, me, False)), 201, {"Location": f"/api/v1/questions/{row.id}"}


@bp.put("/questions/<int:question_id>/answer")
@require_identity()
@api_doc(summary="Answer a question on one's own project (again to correct it)", body=AnswerBody, response=Question)
def answer_question(question_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(AnswerBody)
    me = viewer()
    found = service.answer(db(), me, question_id, body.text)
    return jsonify(question_json(found.row, me, found.upvoted_by_me))


@bp.delete("/questions/<int:question_id>")
@require_identity()
@api_doc(summary="Delete a question (its asker, or an organiser)", status=204)
def delete_question(question_id: int):  # type: ignore[no-untyped-def]
    service.delete_question(db(), viewer(), question_id)
    return "", 204


@bp.post("/questions/<int:question_id>/upvote")
@require_identity()
@api_doc(summary="Upvote a question (a second upvote changes nothing)", response=Upvote)
def upvote(question_id: int):  # type: ignore[no-untyped-def]
    found = service.set_upvote(db(), viewer(), question_id, True)
    return jsonify({"question_id": found.row.id, "upvotes": found.row.upvotes, "upvoted": True})


@bp.delete("/questions/<int:question_id>/upvote")
@require_identity()
@api_doc(summary="Take one's upvote back", response=Upvote)
def remove_upvote(question_id: int):  # type: ignore[no-untyped-def]
    found = service.set_upvote(db(), viewer(), question_id, False)
    return jsonify({"question_id": found.row.id, "upvotes": found.row.upvotes, "upvoted": False})
