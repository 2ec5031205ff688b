"""A business's approved answers over HTTP: add, list, show, edit, enable, disable, delete. Part of its
knowledge (`/v1/knowledge/answers`); every route needs the business's API key.

A save is refused (400) while the text holds a customer's placeholder, or personal data the business did
not declare its own (`keep_business_details`): see `ingest.answers`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.deps import CurrentBusiness, ObjectId, RuntimeDep
from ingest.answers import ApprovedAnswerCreate, ApprovedAnswerUpdate
from retrieval.approved import ApprovedAnswerPublic

router = APIRouter(prefix="/v1/knowledge/answers", tags=["knowledge"])


class DeletedAnswerPublic(BaseModel):
    approved_answer_id: int


def _business_id(business: CurrentBusiness) -> int:
    assert business.id is not None
    return business.id


@router.get("", response_model=list[ApprovedAnswerPublic])
def list_answers(runtime: RuntimeDep, business: CurrentBusiness) -> list[ApprovedAnswerPublic]:
    return runtime.approved_answers.list_answers(_business_id(business))


@router.post("", status_code=201, response_model=ApprovedAnswerPublic)
async def add_answer(
    body: ApprovedAnswerCreate, runtime: RuntimeDep, business: CurrentBusiness
) -> ApprovedAnswerPublic:
    """Mask and store an approved answer; the bot sends it to a customer asking its question."""
    return await run_in_threadpool(runtime.approved_answers.add, _business_id(business), body)


@router.get("/{answer_id}", response_model=ApprovedAnswerPublic)
def get_answer(answer_id: ObjectId, runtime: RuntimeDep, business: CurrentBusiness) -> ApprovedAnswerPublic:
    return runtime.approved_answers.get_answer(_business_id(business), answer_id)


@router.patch("/{answer_id}", response_model=ApprovedAnswerPublic)
async def update_answer(
    answer_id: ObjectId, body: ApprovedAnswerUpdate, runtime: RuntimeDep, business: CurrentBusiness
) -> ApprovedAnswerPublic:
    return await run_in_threadpool(runtime.approved_answers.update, _business_id(business), answer_id, body)


@router.post("/{answer_id}/disable", response_model=ApprovedAnswerPublic)
def disable_answer(
    answer_id: ObjectId, runtime: RuntimeDep, business: CurrentBusiness
) -> ApprovedAnswerPublic:
    """The answer stays stored but is never sent until enabled again."""
    return runtime.approved_answers.set_enabled(_business_id(business), answer_id, False)


@router.post("/{answer_id}/enable", response_model=ApprovedAnswerPublic)
def enable_answer(
    answer_id: ObjectId, runtime: RuntimeDep, business: CurrentBusiness
) -> ApprovedAnswerPublic:
    return runtime.approved_answers.set_enabled(_business_id(business), answer_id, True)


@router.delete("/{answer_id}", response_model=DeletedAnswerPublic)
def delete_answer(answer_id: ObjectId, runtime: RuntimeDep, business: CurrentBusiness) -> DeletedAnswerPublic:
    runtime.approved_answers.delete(_business_id(business), answer_id)
    return DeletedAnswerPublic(approved_answer_id=answer_id)
