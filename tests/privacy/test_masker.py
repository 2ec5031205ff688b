from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlmodel import Session, SQLModel, select

from core.crypto import SecretBox
from core.db import create_db_engine
from core.placeholders import canonical_placeholder
from privacy.detect import Detector, KnownValue
from privacy.masker import Masker, restore
from privacy.models import VaultEntry
from privacy.vault import Vault, VaultScope


@pytest.fixture
def box() -> SecretBox:
    return SecretBox([Fernet.generate_key()])


def _session_on(url: str) -> Iterator[Session]:
    import bot.models  # noqa: F401
    import core.tenants  # noqa: F401
    import retrieval.models  # noqa: F401

    engine = create_db_engine(url)
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    yield from _session_on(f"sqlite:///{tmp_path / 'unit.db'}")


@pytest.fixture
def either_session(database_url: str) -> Iterator[Session]:
    """A session on SQLite or on PostgreSQL (a failed statement aborts a PostgreSQL transaction)."""
    yield from _session_on(database_url)


@pytest.fixture
def masker(analyzer, box: SecretBox) -> Masker:  # type: ignore[no-untyped-def]
    return Masker(Detector(analyzer), Vault(box))


CONV = VaultScope.conversation(1)


def test_same_value_gets_the_same_placeholder_and_types_count_separately(
    masker: Masker, session: Session
) -> None:
    first = masker.mask(session, "Mail maria.lopez@example.com or call +44 7700 900123", CONV)
    second = masker.mask(session, "again: MARIA.LOPEZ@example.com, and bob@example.org", CONV)
    assert first.text == "Mail <EMAIL_ADDRESS_1> or call <PHONE_NUMBER_1>"
    assert second.text == "again: <EMAIL_ADDRESS_1>, and <EMAIL_ADDRESS_2>"


def test_a_value_seen_once_is_masked_later_even_where_the_detector_misses_it(
    masker: Masker, session: Session
) -> None:
    masker.mask(session, "My name is Maria Lopez", CONV)
    # Lower case and alone: spaCy does not see a name here, the vault does.
    later = masker.mask(session, "ok maria lopez here again", CONV)
    assert later.text == "ok <PERSON_1> here again"
    assert later.spans[0].recognizer == "KnownValue"


def test_known_values_are_masked_in_every_spelling(masker: Masker, session: Session) -> None:
    known = [KnownValue("PHONE_NUMBER", "447700900123"), KnownValue("PERSON", "Zed Quixley")]
    result = masker.mask(session, "zed quixley, reach me at +44 (7700) 900-123", CONV, known=known)
    assert result.text == "<PERSON_1>, reach me at <PHONE_NUMBER_1>"


def test_unmask_restores_tolerates_model_spelling_and_drops_unknown_placeholders(
    masker: Masker, session: Session
) -> None:
    masker.mask(session, "I am Maria Lopez, maria.lopez@example.com", CONV)
    text = "Hi < person_1 >, we wrote to <Email Address 1>. <PERSON_7> and <PHONE_NUMBER_1> are unknown."
    assert masker.unmask(session, text, [CONV]) == (
        "Hi Maria Lopez, we wrote to maria.lopez@example.com. and are unknown."
    )


def test_unmask_never_inserts_a_value_from_another_conversation(masker: Masker, session: Session) -> None:
    masker.mask(session, "I am Maria Lopez", VaultScope.conversation(1))
    other = VaultScope.conversation(2)
    assert masker.unmask(session, "Hello <PERSON_1>!", [other]) == "Hello!"


def test_vault_stores_values_encrypted_only(masker: Masker, session: Session) -> None:
    masker.mask(session, "write to maria.lopez@example.com", CONV)
    session.flush()
    (entry,) = session.exec(select(VaultEntry)).all()
    assert "maria" not in entry.value_sealed and "maria" not in entry.value_hash
    assert entry.placeholder == "<EMAIL_ADDRESS_1>" and entry.scope == "conv:1"


def test_knowledge_placeholders_are_kept_apart_from_conversation_ones(
    masker: Masker, session: Session
) -> None:
    kb = VaultScope.knowledge(1)
    masked = masker.mask(session, "Write to orders@crumb-bakery.example.com", kb, remember=False)
    assert masked.text == "Write to <DOC_EMAIL_ADDRESS_1>"
    assert masker.unmask(session, masked.text, [CONV, kb]) == "Write to orders@crumb-bakery.example.com"


def test_key_rotation_keeps_old_values_readable(session: Session) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed = SecretBox([old]).seal("+44 7700 900123")
    assert SecretBox([new, old]).open(sealed) == "+44 7700 900123"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<PERSON_1>", "<PERSON_1>"),
        ("< person 1 >", "<PERSON_1>"),
        ("<Email_Address_12>", "<EMAIL_ADDRESS_12>"),
        ("<DOC_EMAIL_ADDRESS_1>", "<DOC_EMAIL_ADDRESS_1>"),
        ("<b>", None),
        ("PERSON_1", None),
    ],
)
def test_canonical_placeholder(raw: str, expected: str | None) -> None:
    assert canonical_placeholder(raw) == expected


def test_restore_tidies_the_gap_a_dropped_placeholder_leaves() -> None:
    assert restore("Thanks <PERSON_3> , see you!", {}) == "Thanks, see you!"


def test_a_planned_mask_matches_the_written_one_and_writes_only_when_kept(
    masker: Masker, either_session: Session
) -> None:
    session = either_session
    masker.mask(session, "Mail maria.lopez@example.com", CONV)
    plan = masker.vault.planner(session, CONV)
    planned = masker.plan(session, "maria.lopez@example.com and bob@example.org, +44 7700 900123", plan)
    assert planned.text == "<EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>, <PHONE_NUMBER_1>"
    assert len(session.exec(select(VaultEntry)).all()) == 1  # planning wrote nothing
    assert plan.keep(session)
    again = masker.mask(session, "bob@example.org / +44 7700 900123", CONV)
    assert again.text == "<EMAIL_ADDRESS_2> / <PHONE_NUMBER_1>"
    assert len(session.exec(select(VaultEntry)).all()) == 3


def test_a_plan_overtaken_by_another_writer_is_refused(masker: Masker, either_session: Session) -> None:
    session = either_session
    plan = masker.vault.planner(session, CONV)
    planned = masker.plan(session, "write to bob@example.org or call +44 7700 900123", plan)
    assert planned.text == "write to <EMAIL_ADDRESS_1> or call <PHONE_NUMBER_1>"
    # Meanwhile an agent's note stores another address first: it takes <EMAIL_ADDRESS_1>.
    masker.mask(session, "note: ann@example.net", CONV)
    assert not plan.keep(session)  # and stores none of its values, the phone number's neither
    assert masker.vault.values(session, CONV) == {"<EMAIL_ADDRESS_1>": ("EMAIL_ADDRESS", "ann@example.net")}
    assert masker.mask(session, "bob@example.org", CONV).text == "<EMAIL_ADDRESS_2>"
