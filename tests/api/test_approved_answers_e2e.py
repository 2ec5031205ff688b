"""Approved answers end to end: added through `/v1/knowledge/answers` on the real server, sent to a customer
whose signed webhook paraphrases the question (on the Graph API stand-in, with the answer's buttons), the
outbound message recording which approved answer it was; saved from a conversation in the console only once
the customer's placeholders are gone; managed with `wepos answer`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from api import cli
from bot.models import Direction, Message
from core.api_keys import issue_api_key
from core.db import session_scope
from core.staff import Role
from tests.api.conftest import Wepos
from tests.console_helpers import Browsers, add_user, csrf
from tests.helpers import HTTP, post, text_payload, wait_settled

pytestmark = pytest.mark.e2e

ANSWER = "Yes! Office cake deliveries go out Tuesday to Saturday before 11 am, in our insulated office box."


@pytest.fixture
def browsers(wepos: Wepos) -> Iterator[Browsers]:
    clients = Browsers(wepos.url)
    yield clients
    clients.close()


def _headers(wepos: Wepos) -> dict[str, str]:
    with session_scope(wepos.runtime.engine) as session:
        secret = issue_api_key(session, business_id=wepos.business_id, name="answers-test").secret
    return {"Authorization": f"Bearer {secret}"}


def test_an_approved_answer_added_by_api_answers_a_paraphrase_and_is_recorded(wepos: Wepos) -> None:
    headers = _headers(wepos)
    url = f"{wepos.url}/v1/knowledge/answers"
    body = {"question": "Can you deliver a cake to my office?", "answer": ANSWER}
    added = HTTP.post(url, json=body, headers=headers, timeout=30)
    assert added.status_code == 201, added.text
    answer_id = added.json()["id"]
    assert HTTP.get(url, headers=headers, timeout=30).json()[0]["answer"] == ANSWER
    refused = HTTP.post(
        url,
        json={"question": "Where is <PERSON_1>'s cake?", "answer": "On its way."},
        headers=headers,
        timeout=30,
    )
    assert refused.status_code == 400 and "<PERSON_1>" in refused.text
    assert HTTP.post(url, json=body, timeout=30).status_code == 401

    assert (
        post(wepos.url, text_payload("Hi, I'm Maria Lopez. Do you deliver cakes to offices?")).status_code
        == 200
    )
    (sent,) = wepos.graph.wait_for_sends(1)
    assert sent["json"]["interactive"]["type"] == "button" and wepos.graph.body(sent) == ANSWER
    wait_settled(wepos.runtime)
    with session_scope(wepos.runtime.engine) as session:
        reply = session.exec(select(Message).where(Message.direction == Direction.OUTBOUND)).one()
    assert (reply.approved_answer_id, reply.sources, reply.text_masked) == (answer_id, None, ANSWER)

    # Disabled: the documents answer again.
    assert HTTP.post(f"{url}/{answer_id}/disable", headers=headers, timeout=30).json()["enabled"] is False
    assert post(wepos.url, text_payload("Do you deliver cakes to offices?")).status_code == 200
    assert wepos.graph.body(wepos.graph.wait_for_sends(2)[1]) != ANSWER
    assert HTTP.delete(f"{url}/{answer_id}", headers=headers, timeout=30).json() == {
        "approved_answer_id": answer_id
    }
    assert HTTP.get(f"{url}/{answer_id}", headers=headers, timeout=30).status_code == 404


def test_an_agent_saves_a_reply_from_a_conversation_once_the_customer_data_is_gone(
    wepos: Wepos, browsers: Browsers
) -> None:
    assert post(wepos.url, text_payload("I want to talk to a real person please")).status_code == 200
    wait_settled(wepos.runtime)
    agent = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.AGENT))
    here = "/console/conversations/1"
    token = csrf(agent, here)
    assert agent.post(f"{here}/claim", data={"csrf": token}).status_code == 303
    sent = agent.post(
        f"{here}/reply", data={"csrf": token, "text": "Maria Lopez, we bake wedding cakes to order."}
    )
    assert sent.status_code == 303
    with session_scope(wepos.runtime.engine) as session:
        reply_id = session.exec(
            select(Message.id).where(
                Message.direction == Direction.OUTBOUND, col(Message.in_reply_to_id).is_(None)
            )
        ).one()
    assert f"/messages/{reply_id}/approve" in agent.get(here).text
    form = agent.get(f"{here}/messages/{reply_id}/approve").text
    assert "&lt;PERSON_1&gt;, we bake wedding cakes to order." in form and "Maria" not in form

    draft = {"csrf": token}
    masked = {
        **draft,
        "question": "Do you bake wedding cakes?",
        "answer": "<PERSON_1>, we bake wedding cakes.",
    }
    refused = agent.post(f"{here}/answers", data=masked)
    assert refused.status_code == 400 and "still holds the customer" in refused.text
    edited = {**masked, "answer": "Yes, we bake wedding cakes to order."}
    assert agent.post(f"{here}/answers", data=edited).status_code == 303

    listed = CliRunner().invoke(
        cli.app, ["answer", "list", "--tenant", "demo-bakery", "--json"], obj=wepos.runtime
    )
    assert listed.exit_code == 0, listed.output
    (saved,) = json.loads(listed.output)
    assert (saved["answer"], saved["origin"]) == ("Yes, we bake wedding cakes to order.", "conversation")

    admin = browsers.sign_in(add_user(wepos.runtime, wepos.business_id, Role.ADMIN))
    assert "Yes, we bake wedding cakes to order." in admin.get("/console/admin/answers").text
    runner = CliRunner()
    added = runner.invoke(
        cli.app,
        ["answer", "add", "--tenant", "demo-bakery", "--question", "Dogs?", "--answer", "Dogs are welcome."],
        obj=wepos.runtime,
    )
    assert added.exit_code == 0 and "saved" in added.output
    deleted = runner.invoke(
        cli.app, ["answer", "delete", str(saved["id"]), "--tenant", "demo-bakery"], obj=wepos.runtime
    )
    assert deleted.exit_code == 0
    assert [a.answer for a in wepos.runtime.approved_answers.list_answers(wepos.business_id)] == [
        "Dogs are welcome."
    ]
