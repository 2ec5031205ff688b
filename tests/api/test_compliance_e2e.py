"""Data-subject rights and the leak audit end to end: real server, engines and database, the `wepos` command."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select as sm_select
from typer.testing import CliRunner

from api import cli
from bot.models import Contact, Conversation, Direction, Message, OutboundStatus
from core.db import session_scope
from core.errors import NotFound
from privacy.models import ConsentRecord, ErasureRecord, RedactionEvent, VaultEntry
from tests.api.conftest import Wepos
from tests.helpers import HTTP, post, stored_messages, text_cells, text_payload, wait_until

pytestmark = pytest.mark.e2e
runner = CliRunner()

QUESTION = (
    "Hi, this is Maria Lopez, my number is +44 7700 900123 and my email is maria.lopez@example.com. "
    "When are you open on Sunday?"
)
RAW_VALUES = ["Maria", "Lopez", "maria.lopez@example.com", "447700900123", "7700 900123", "900123"]


def _converse(wepos: Wepos) -> None:
    post(wepos.url, text_payload(QUESTION))
    wepos.graph.wait_for_sends(1)
    post(wepos.url, text_payload("STOP"))
    wepos.graph.wait_for_sends(2)
    assert wait_until(
        lambda: len([m for m in stored_messages(wepos.runtime) if m.status == OutboundStatus.SENT]) == 2
    )


def test_export_gives_the_customer_everything_restored_and_erase_leaves_nothing(wepos: Wepos) -> None:
    _converse(wepos)

    out = wepos.data_dir.parent / "export.json"
    exported = runner.invoke(
        cli.app,
        ["dsar", "export", "--tenant", "demo-bakery", "--phone", "+44 7700 900123", "--out", str(out)],
        obj=wepos.runtime,
    )
    assert exported.exit_code == 0, exported.output
    assert exported.output == f"exported 4 messages in 1 conversations to {out}\n"
    assert out.stat().st_mode & 0o777 == 0o600
    data = json.loads(out.read_text())
    assert data["contact"]["phone"] == "447700900123" and data["contact"]["profile_name"] == "Maria Lopez"
    (conversation,) = data["conversations"]
    texts = [(m["direction"], m["text"]) for m in conversation["messages"]]
    assert texts[0] == ("in", QUESTION)  # the original, restored from the vault
    assert texts[1][0] == "out" and texts[1][1].startswith("Hi Maria Lopez!") and "<" not in texts[1][1]
    assert texts[2] == ("in", "STOP")
    assert texts[3][0] == "out" and "won't get any more messages" in texts[3][1]
    assert sorted(r["entity_type"] for r in data["redactions"]) == ["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"]
    assert all(
        set(r) == {"message_id", "entity_type", "start", "end", "score", "recognizer", "at"}
        for r in data["redactions"]
    )
    assert data["consent"]["current"] == {"service_replies": False, "ai_processing": True, "marketing": False}
    assert [(c["purpose"], c["granted"], c["source"]) for c in data["consent"]["history"]] == [
        ("service_replies", False, "keyword")
    ]

    # With the key, a ciphertext left in a free page is the value: those must go too, and the masked text.
    with session_scope(wepos.runtime.engine) as session:
        contact = session.exec(sm_select(Contact)).one()
        traces = [contact.wa_id_sealed, contact.profile_name_sealed or ""]
        traces += [
            e.value_sealed for e in session.exec(sm_select(VaultEntry)).all() if e.scope.startswith("conv:")
        ]
        traces += [
            m.text_masked or ""
            for m in session.exec(sm_select(Message)).all()
            if m.direction == Direction.INBOUND
        ]
    assert len(traces) == 7 and all(traces)

    refused = runner.invoke(
        cli.app, ["dsar", "erase", "--tenant", "demo-bakery", "--phone", "447700900123"], obj=wepos.runtime
    )
    assert refused.exit_code == 1 and "--yes" in refused.output
    erased = runner.invoke(
        cli.app,
        ["dsar", "erase", "--tenant", "demo-bakery", "--phone", "+44 7700 900123", "--yes"],
        obj=wepos.runtime,
    )
    assert erased.exit_code == 0, erased.output
    assert erased.output.startswith(
        "erased: 4 messages, 1 conversations, 3 vault entries, 3 redaction events, 1 consent records"
    )

    with session_scope(wepos.runtime.engine) as session:
        for model in (Contact, Conversation, Message, ConsentRecord):
            assert session.exec(sm_select(model)).all() == [], model
        assert (
            session.exec(sm_select(RedactionEvent).where(RedactionEvent.source_kind == "message")).all() == []
        )
        assert all(e.scope.startswith("kb:") for e in session.exec(sm_select(VaultEntry)).all())
        (record,) = session.exec(sm_select(ErasureRecord)).all()
        assert (record.messages, record.conversations, record.vault_entries, record.consent_records) == (
            4,
            1,
            3,
            1,
        )
        assert record.contact_hash == wepos.runtime.box.lookup_hash("447700900123")

    # None of the customer's values exist anywhere: every text cell, and every byte of the data dir
    # (the SQLite file and its WAL, which erasure rebuilt and emptied; Chroma; the logs).
    cells = text_cells(wepos.runtime.engine)
    assert cells and not [v for v in RAW_VALUES for cell in cells if v in cell]
    scanned = 0
    for path in wepos.data_dir.rglob("*"):
        if path.is_file():
            data_bytes = path.read_bytes()
            scanned += 1
            for value in RAW_VALUES:
                assert value.encode() not in data_bytes, (
                    f"{value!r} found in {path.relative_to(wepos.data_dir)}"
                )
                assert value.encode("utf-16-le") not in data_bytes
            for trace in traces:
                assert trace.encode() not in data_bytes, (
                    f"a trace is left in {path.relative_to(wepos.data_dir)}"
                )
    assert scanned >= 3

    again = runner.invoke(
        cli.app,
        ["dsar", "export", "--tenant", "demo-bakery", "--phone", "+44 7700 900123"],
        obj=wepos.runtime,
    )
    assert isinstance(again.exception, NotFound) and "holds no data about that number" in str(again.exception)


def test_bad_phone_and_unknown_tenant_are_clear_errors(wepos: Wepos) -> None:
    bad = runner.invoke(
        cli.app, ["dsar", "export", "--tenant", "demo-bakery", "--phone", "call me"], obj=wepos.runtime
    )
    assert isinstance(bad.exception, Exception) and "international number" in str(bad.exception)
    unknown = runner.invoke(
        cli.app, ["dsar", "erase", "--tenant", "nope", "--phone", "447700900123", "--yes"], obj=wepos.runtime
    )
    assert "no tenant named 'nope'" in str(unknown.exception)


def test_audit_finds_nothing_after_a_conversation_and_reports_planted_values(wepos: Wepos) -> None:
    _converse(wepos)
    clean = runner.invoke(cli.app, ["privacy", "audit", "--json"], obj=wepos.runtime)
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output) == []

    with session_scope(wepos.runtime.engine) as session:
        entries = {
            e.entity_type: e.id
            for e in session.exec(sm_select(VaultEntry)).all()
            if e.scope.startswith("conv:")
        }
        conversation = session.exec(sm_select(Conversation)).one()
        conversation.handoff_reason = "MARIA.LOPEZ@example.com"  # a raw value where only codes belong
        session.add(conversation)
        conversation_id = conversation.id
    with (wepos.data_dir / "logs" / "wepos.log").open("a") as log:
        log.write('{"event": "oops", "phone": "+44 (7700) 900-123"}\n')

    found = runner.invoke(cli.app, ["privacy", "audit", "--json"], obj=wepos.runtime)
    assert found.exit_code == 1
    assert all(value not in found.output for value in RAW_VALUES)
    findings = {(f["place"], f["entity_type"], f["vault_entry_id"]) for f in json.loads(found.output)}
    assert findings == {
        (f"conversation.handoff_reason#{conversation_id}", "EMAIL_ADDRESS", entries["EMAIL_ADDRESS"]),
        ("file:logs/wepos.log", "PHONE_NUMBER", entries["PHONE_NUMBER"]),
    }
    text = runner.invoke(cli.app, ["privacy", "audit"], obj=wepos.runtime)
    assert text.exit_code == 1 and text.output.endswith("2 leak(s) found\n")
    assert all(value not in text.output for value in RAW_VALUES)


def test_a_message_stored_unmasked_is_found(wepos: Wepos) -> None:
    _converse(wepos)
    with session_scope(wepos.runtime.engine) as session:
        inbound = session.exec(sm_select(Message).where(Message.direction == Direction.INBOUND)).first()
        assert inbound is not None
        inbound.text_masked = "Hi, this is maria lopez"  # as if masking had been skipped
        session.add(inbound)
    found = runner.invoke(cli.app, ["privacy", "audit", "--json"], obj=wepos.runtime)
    assert found.exit_code == 1
    assert {(f["place"], f["entity_type"]) for f in json.loads(found.output)} == {
        (f"message.text_masked#{inbound.id}", "PERSON")
    }


def test_every_compliance_command_has_help() -> None:
    for command in (["dsar", "export"], ["dsar", "erase"], ["retention", "run"], ["privacy", "audit"]):
        result = runner.invoke(cli.app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, command


def _api_key(wepos: Wepos, business_id: int | None = None) -> dict[str, str]:
    from core.api_keys import issue_api_key

    with session_scope(wepos.runtime.engine) as session:
        issued = issue_api_key(session, business_id=business_id or wepos.business_id, name="compliance")
    return {"Authorization": f"Bearer {issued.secret}"}


def test_compliance_routes_need_a_key_filter_the_log_and_export_and_erase(wepos: Wepos) -> None:

    from core.tenants import create_business

    _converse(wepos)
    headers = _api_key(wepos)
    base = f"{wepos.url}/v1/compliance"
    assert HTTP.get(f"{base}/redactions").status_code == 401

    everything = HTTP.get(f"{base}/redactions", headers=headers).json()
    # The customer's message, and the knowledge documents' own contact details.
    chunks = len([i for i in everything["items"] if i["source_kind"] == "chunk"])
    assert everything["total"] == 3 + chunks and everything["limit"] == 100 and everything["offset"] == 0
    messages = sorted(i["entity_type"] for i in everything["items"] if i["source_kind"] == "message")
    assert messages == ["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"]
    assert all("placeholder" not in i for i in everything["items"])
    emails = HTTP.get(f"{base}/redactions", params={"entity_type": "EMAIL_ADDRESS"}, headers=headers).json()
    assert {i["entity_type"] for i in emails["items"]} == {"EMAIL_ADDRESS"} and emails["total"] >= 1
    page = HTTP.get(f"{base}/redactions", params={"limit": 2, "offset": 2 + chunks}, headers=headers).json()
    assert (page["total"], len(page["items"])) == (3 + chunks, 1)
    assert page["items"][0]["id"] == everything["items"][-1]["id"]  # newest first, the same order
    sure = HTTP.get(f"{base}/redactions", params={"min_score": 0.99}, headers=headers).json()
    assert sure["total"] < everything["total"] and all(i["score"] >= 0.99 for i in sure["items"])
    assert HTTP.get(f"{base}/redactions", params={"min_score": 1.01}, headers=headers).status_code == 422
    future = HTTP.get(f"{base}/redactions", params={"since": "2999-01-01T00:00:00Z"}, headers=headers)
    assert future.json()["total"] == 0
    backwards = HTTP.get(
        f"{base}/redactions",
        params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        headers=headers,
    )
    assert backwards.status_code == 400 and backwards.json()["error"] == "invalid_input"
    assert HTTP.get(f"{base}/redactions", params={"min_score": "high"}, headers=headers).status_code == 422

    # Another business's key sees none of this customer.
    with session_scope(wepos.runtime.engine) as session:
        other = create_business(session, name="other", phone_number_id="777", box=wepos.runtime.box)
    other_headers = _api_key(wepos, other.id)
    assert HTTP.get(f"{base}/redactions", headers=other_headers).json()["total"] == 0
    assert (
        HTTP.get(f"{base}/dsar/export", params={"phone": "447700900123"}, headers=other_headers).status_code
        == 404
    )

    exported = HTTP.get(f"{base}/dsar/export", params={"phone": "+44 7700 900123"}, headers=headers)
    assert exported.status_code == 200
    assert exported.json()["conversations"][0]["messages"][0]["text"] == QUESTION
    bad = HTTP.get(f"{base}/dsar/export", params={"phone": "not a number"}, headers=headers)
    assert bad.status_code == 400 and "international number" in bad.json()["detail"]

    erased = HTTP.post(f"{base}/dsar/erase", json={"phone": "+44 7700 900123"}, headers=headers, timeout=30)
    assert erased.status_code == 200
    assert {k: v for k, v in erased.json().items() if k != "erasure_id"} == {
        "messages": 4,
        "conversations": 1,
        "vault_entries": 3,
        "redaction_events": 3,
        "consent_records": 1,
    }
    assert HTTP.post(f"{base}/dsar/erase", json={"phone": "447700900123"}, headers=headers).status_code == 404
    assert HTTP.get(f"{base}/redactions", headers=headers).json()["total"] == chunks


def test_rotate_key_reseals_everything_and_the_conversation_carries_on(wepos: Wepos) -> None:
    from cryptography.fernet import Fernet, InvalidToken
    from pydantic import SecretStr

    from core.crypto import SecretBox

    _converse(wepos)
    settings = wepos.runtime.settings
    assert settings.vault_key is not None
    old_keys = [settings.vault_key.get_secret_value().encode()]
    with session_scope(wepos.runtime.engine) as session:
        before = {e.id: (e.value_sealed, e.value_hash) for e in session.exec(sm_select(VaultEntry)).all()}
        contact_hash = session.exec(sm_select(Contact)).one().wa_id_hash

    rotated = runner.invoke(cli.app, ["privacy", "rotate-key", "--yes"], obj=wepos.runtime)
    assert rotated.exit_code == 0, rotated.output
    printed = [line for line in rotated.stdout.splitlines() if line.startswith("WEPOS_VAULT_KEY=")]
    ring = printed[0].removeprefix("WEPOS_VAULT_KEY=").split(",")
    assert len(ring) == 2 and ring[1].encode() == old_keys[0]
    new_box, old_only = SecretBox([ring[0].encode()]), Fernet(old_keys[0])
    with session_scope(wepos.runtime.engine) as session:
        entries = session.exec(sm_select(VaultEntry)).all()
        contact = session.exec(sm_select(Contact)).one()
        assert entries and all(
            before[e.id][0] != e.value_sealed and before[e.id][1] != e.value_hash for e in entries
        )
        assert contact.wa_id_hash != contact_hash
        assert new_box.open(contact.wa_id_sealed) == "447700900123"  # the new key alone opens it
        assert contact.wa_id_hash == new_box.lookup_hash("447700900123")
        for entry in entries:
            with pytest.raises(InvalidToken):
                old_only.decrypt(entry.value_sealed.encode())  # the old key no longer opens anything

    # The service restarts on the new ring: the same customer is the same contact, answered as before.
    from api.runtime import Runtime
    from tests.helpers import running_server

    wepos.runtime.close()
    new_settings = settings.model_copy(update={"vault_key": SecretStr(",".join(ring))})
    restarted = Runtime(new_settings, analyzer=wepos.runtime.analyzer, embeddings=wepos.runtime.embeddings)
    with running_server(restarted) as url:
        post(url, text_payload("START"))
        wepos.graph.wait_for_sends(3)
        post(url, text_payload("Do you have gluten-free bread?"))
        sends = wepos.graph.wait_for_sends(4)
    assert "Maria Lopez" in wepos.graph.body(sends[2])  # the name, opened under the new key
    assert "gluten-free" in wepos.graph.body(sends[3])
    with session_scope(restarted.engine) as session:
        assert len(session.exec(sm_select(Contact)).all()) == 1
    restarted.close()
