"""The `wepos` command over the same services (engines shared with the suite to stay fast)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api import cli
from api.runtime import Runtime
from core.errors import NotFound
from tests.conftest import EXAMPLES, GraphStandIn, make_settings
from tests.helpers import running_server

runner = CliRunner()


@pytest.fixture
def runtime(
    tmp_path: Path,
    sqlite_url: str,
    analyzer,
    embeddings,  # type: ignore[no-untyped-def]
    graph: GraphStandIn,
) -> Iterator[Runtime]:
    settings = make_settings(tmp_path / "var", sqlite_url, whatsapp_api_base=graph.base_url)
    rt = Runtime(settings, analyzer=analyzer, embeddings=embeddings, console=lambda _line: None)
    rt.migrate()
    yield rt
    rt.close()


def test_tenant_ingest_and_ask(runtime: Runtime) -> None:
    created = runner.invoke(cli.app, ["tenant", "create", "crumb", "--phone-number-id", "555"], obj=runtime)
    assert created.exit_code == 0, created.output
    assert "console mode" in created.output
    duplicate = runner.invoke(cli.app, ["tenant", "create", "crumb", "--phone-number-id", "556"], obj=runtime)
    assert duplicate.exit_code != 0
    ingested = runner.invoke(cli.app, ["ingest", "--tenant", "crumb", str(EXAMPLES)], obj=runtime)
    assert ingested.exit_code == 0, ingested.output
    assert ingested.output.count("added") == 5
    again = runner.invoke(cli.app, ["ingest", "--tenant", "crumb", str(EXAMPLES)], obj=runtime)
    assert again.output.count("unchanged") == 5
    asked = runner.invoke(
        cli.app,
        ["ask", "--tenant", "crumb", "--json", "I'm Maria Lopez, do you have gluten-free bread?"],
        obj=runtime,
    )
    assert asked.exit_code == 0, asked.output
    result = json.loads(asked.output)
    assert "gluten-free seeded loaf" in result["answer"]
    assert result["confident"] is True
    assert result["sources"][0]["title"] == "Faq" and 0 < result["sources"][0]["score"] <= 1
    assert result["masked"] == [{"type": "PERSON", "start": 4, "end": 15, "score": 0.85}]
    assert "Maria" not in asked.output


def test_ingest_reports_a_corrupt_file_and_exits_non_zero(runtime: Runtime, tmp_path: Path) -> None:
    runner.invoke(cli.app, ["tenant", "create", "crumb", "--phone-number-id", "555"], obj=runtime)
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 nope")
    (tmp_path / "good.txt").write_text("Hours\nWe open at 9.\n")
    result = runner.invoke(
        cli.app,
        ["ingest", "--tenant", "crumb", str(tmp_path / "bad.pdf"), str(tmp_path / "good.txt")],
        obj=runtime,
    )
    assert result.exit_code == 1
    assert "bad.pdf: the file is damaged or not a valid pdf file" in result.output
    assert "added      good.txt: 1 chunks" in result.output


@pytest.mark.e2e  # a real server or the installed command in its own process
def test_chat_signs_real_webhooks_and_shows_the_unmasked_reply(runtime: Runtime) -> None:
    runner.invoke(
        cli.app,
        ["tenant", "create", "crumb", "--phone-number-id", "555", "--display-name", "Crumb"],
        obj=runtime,
    )
    runner.invoke(cli.app, ["ingest", "--tenant", "crumb", str(EXAMPLES)], obj=runtime)
    with running_server(runtime) as url:
        result = runner.invoke(
            cli.app,
            ["chat", "--tenant", "crumb", "--url", url, "--name", "Zed Quixley"],
            input="Can I bring my dog?\n",
            obj=runtime,
        )
    assert result.exit_code == 0, result.output
    assert "Crumb: Hi Zed Quixley! Dogs are welcome in both shops." in result.output


@pytest.mark.e2e  # a real server or the installed command in its own process
def test_privacy_mask_json_through_the_installed_command(tmp_path: Path) -> None:
    wepos = Path(sys.executable).parent / "wepos"
    result = subprocess.run(
        [str(wepos), "privacy", "mask", "--json", "This is Maria Lopez, call me on +44 7700 900123"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "WEPOS_DATA_DIR": str(tmp_path / "var")},
    )
    assert result.returncode == 0, result.stderr
    assert "Maria" not in result.stderr  # nothing personal in what it logs
    assert json.loads(result.stdout) == {
        "masked": "This is <PERSON_1>, call me on <PHONE_NUMBER_1>",
        "entities": [
            {"type": "PERSON", "start": 8, "end": 19, "score": 0.85},
            {"type": "PHONE_NUMBER", "start": 32, "end": 47, "score": 0.75},
        ],
    }


def test_every_command_has_help() -> None:
    for command in (
        ["serve"],
        ["migrate"],
        ["demo"],
        ["ingest"],
        ["ask"],
        ["chat"],
        ["tenant", "create"],
        ["tenant", "list"],
        ["tenant", "configure"],
        ["conversation", "list"],
        ["conversation", "reply"],
        ["conversation", "handback"],
        ["templates", "list"],
        ["privacy", "mask"],
    ):
        result = runner.invoke(cli.app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, command


def test_a_command_closes_the_runtime_it_built_never_one_handed_in(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[Runtime] = []
    close = Runtime.close

    def recording_close(self: Runtime) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(Runtime, "close", recording_close)
    monkeypatch.setattr("core.logs.configure_logging", lambda *_args: None)  # the suite's logging stays
    monkeypatch.setenv("WEPOS_DATA_DIR", str(tmp_path / "built"))
    handed_in = runner.invoke(cli.app, ["tenant", "list"], obj=runtime)
    assert (handed_in.exit_code, closed) == (0, [])
    built = runner.invoke(cli.app, ["tenant", "list"])
    assert (built.exit_code, built.output) == (0, "")
    assert len(closed) == 1 and closed[0] is not runtime


def test_configure_list_reply_and_hand_back(runtime: Runtime) -> None:
    from bot.channel.whatsapp import InboundMessage, WebhookBatch

    runner.invoke(
        cli.app,
        ["tenant", "create", "crumb", "--phone-number-id", "555", "--access-token", "EAAx"],
        obj=runtime,
    )
    configured = runner.invoke(
        cli.app,
        [
            "tenant",
            "configure",
            "crumb",
            "--hours",
            "mon-fri 09:00-17:00",
            "--timezone",
            "Europe/London",
            "--refuse-topic",
            "allergic reaction",
            "--escalation-keyword",
            "complaints desk",
        ],
        obj=runtime,
    )
    assert configured.exit_code == 0, configured.output
    assert '"mon": ["09:00", "17:00"]' in configured.output and "Europe/London" in configured.output
    bad = runner.invoke(cli.app, ["tenant", "configure", "crumb", "--hours", "weekdays 9-5"], obj=runtime)
    assert bad.exit_code != 0
    batch = WebhookBatch(
        messages=[InboundMessage("555", "wamid.c1", "447700900123", "Zed", "text", "complaints desk")]
    )
    (message_id,) = runtime.intake.accept(batch).stored
    runtime.assistant.handle(message_id)
    listed = runner.invoke(cli.app, ["conversation", "list", "--tenant", "crumb", "--waiting"], obj=runtime)
    assert listed.output.startswith("1\twaiting_for_agent\tcustomer_request")
    replied = runner.invoke(
        cli.app, ["conversation", "reply", "1", "--tenant", "crumb", "--text", "On it!"], obj=runtime
    )
    assert replied.exit_code == 0 and "queued" in replied.output
    back = runner.invoke(cli.app, ["conversation", "handback", "1", "--tenant", "crumb"], obj=runtime)
    assert back.exit_code == 0
    assert (
        runner.invoke(cli.app, ["conversation", "list", "--tenant", "crumb", "--waiting"], obj=runtime).output
        == ""
    )


def test_a_waba_id_and_a_template_reply_with_its_values(runtime: Runtime, graph: GraphStandIn) -> None:
    from sqlmodel import select

    from bot.channel.templates import TemplateSend
    from bot.channel.whatsapp import InboundMessage, WebhookBatch
    from bot.models import Message
    from core.db import session_scope
    from tests.helpers import ORDER_READY, WABA_ID

    graph.templates[WABA_ID] = [ORDER_READY]
    create = ["tenant", "create", "crumb", "--phone-number-id", "555", "--access-token", "EAAx"]
    assert runner.invoke(cli.app, create, obj=runtime).exit_code == 0
    unset = runner.invoke(cli.app, ["templates", "list", "--tenant", "crumb"], obj=runtime)
    assert unset.exit_code != 0 and "no WhatsApp Business Account id" in str(unset.exception)
    bad = runner.invoke(cli.app, ["tenant", "configure", "crumb", "--waba-id", "waba-1"], obj=runtime)
    assert bad.exit_code != 0 and "must be digits" in str(bad.exception)
    set_it = runner.invoke(cli.app, ["tenant", "configure", "crumb", "--waba-id", WABA_ID], obj=runtime)
    assert set_it.output.endswith(
        f"crumb: approved templates are read from WhatsApp Business Account {WABA_ID}\n"
    )
    assert runner.invoke(cli.app, ["tenant", "list"], obj=runtime).output.endswith(f"\twaba {WABA_ID}\n")
    listed = runner.invoke(cli.app, ["templates", "list", "--tenant", "crumb"], obj=runtime)
    assert listed.output.startswith("order_ready\ten_US\tUTILITY\tvariables 1,2\tsendable\n\tHello {{1}}")

    batch = WebhookBatch(messages=[InboundMessage("555", "wamid.t1", "447700900123", "Zed", "text", "hi")])
    runtime.intake.accept(batch)
    reply = ["conversation", "reply", "1", "--tenant", "crumb", "--template", "order_ready"]
    short = runner.invoke(cli.app, [*reply, "--value", "Maria Lopez"], obj=runtime)
    assert short.exit_code != 0 and "2 variable(s); 1 value(s) given" in str(short.exception)
    sent = runner.invoke(cli.app, [*reply, "--value", "Maria Lopez", "--value", "A-17"], obj=runtime)
    assert sent.exit_code == 0 and "queued" in sent.output, sent.output
    with session_scope(runtime.engine) as session:
        stored = session.exec(select(Message).where(Message.kind == "template")).one()
    assert TemplateSend.from_json(stored.text_masked).values == ("<PERSON_1>", "A-17")


def test_knowledge_and_api_key_commands(runtime: Runtime) -> None:
    assert (
        runner.invoke(
            cli.app, ["tenant", "create", "crumb", "--phone-number-id", "555"], obj=runtime
        ).exit_code
        == 0
    )
    assert runner.invoke(cli.app, ["ingest", "--tenant", "crumb", str(EXAMPLES)], obj=runtime).exit_code == 0

    listed = json.loads(
        runner.invoke(cli.app, ["knowledge", "list", "--tenant", "crumb", "--json"], obj=runtime).output
    )
    assert sorted(d["source_name"] for d in listed) == sorted(p.name for p in EXAMPLES.iterdir())
    faq = next(d for d in listed if d["source_name"] == "faq.csv")
    assert faq["status"] == "indexed" and faq["enabled"] is True and faq["chunk_count"] > 0

    assert (
        runner.invoke(
            cli.app, ["knowledge", "disable", str(faq["id"]), "--tenant", "crumb"], obj=runtime
        ).exit_code
        == 0
    )
    found = runtime.retriever.search(1, "do you have gluten-free bread?", 10)
    assert faq["id"] not in [p.document_id for p in found]
    assert (
        runner.invoke(
            cli.app, ["knowledge", "enable", str(faq["id"]), "--tenant", "crumb"], obj=runtime
        ).exit_code
        == 0
    )
    assert runtime.retriever.search(1, "do you have gluten-free bread?")[0].document_id == faq["id"]

    reindexed = runner.invoke(cli.app, ["knowledge", "reindex", "--tenant", "crumb"], obj=runtime)
    assert reindexed.exit_code == 0, reindexed.output
    assert reindexed.output.count("reindexed") == 5
    deleted = runner.invoke(
        cli.app, ["knowledge", "delete", str(faq["id"]), "--tenant", "crumb", "--yes"], obj=runtime
    )
    assert deleted.exit_code == 0 and f"document {faq['id']} deleted" in deleted.output
    missing = runner.invoke(cli.app, ["knowledge", "show", str(faq["id"]), "--tenant", "crumb"], obj=runtime)
    assert isinstance(missing.exception, NotFound)  # `wepos` prints it as "error: no document N", exit 2

    created = runner.invoke(
        cli.app, ["apikey", "create", "--tenant", "crumb", "--name", "zapier"], obj=runtime
    )
    assert created.exit_code == 0
    secret = created.stdout.strip().splitlines()[0]
    assert secret.startswith("wpk_")
    lookup_id = secret.split("_")[1]
    keys = runner.invoke(cli.app, ["apikey", "list", "--tenant", "crumb"], obj=runtime).output
    assert lookup_id in keys and "zapier" in keys and "active" in keys and secret not in keys
    assert (
        runner.invoke(cli.app, ["apikey", "revoke", lookup_id, "--tenant", "crumb"], obj=runtime).exit_code
        == 0
    )
    assert "revoked" in runner.invoke(cli.app, ["apikey", "list", "--tenant", "crumb"], obj=runtime).output


def test_a_new_tenant_tells_new_customers_its_privacy_notice_unless_told_not_to(runtime: Runtime) -> None:
    from bot.models import policy_for
    from core.db import session_scope
    from core.tenants import get_business_by_name

    on = runner.invoke(cli.app, ["tenant", "create", "crumb", "--phone-number-id", "555"], obj=runtime)
    off = runner.invoke(
        cli.app, ["tenant", "create", "quiet", "--phone-number-id", "556", "--no-privacy-notice"], obj=runtime
    )
    assert "privacy notice on" in on.output and "privacy notice off" in off.output
    with session_scope(runtime.engine) as session:
        notices = {
            name: policy_for(session, get_business_by_name(session, name).id or 0).privacy_notice_enabled
            for name in ("crumb", "quiet")
        }
    assert notices == {"crumb": True, "quiet": False}


def _wepos(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed `wepos` command, as a user runs it in a shell."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "wepos"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "WEPOS_DATA_DIR": str(tmp_path / "var"), **env},
    )


@pytest.mark.e2e  # a real server or the installed command in its own process
def test_the_first_commands_work_on_a_fresh_embedded_data_dir(tmp_path: Path) -> None:
    created = _wepos(tmp_path, "tenant", "create", "acme", "--phone-number-id", "123")
    assert (created.returncode, created.stderr) == (0, "")
    assert created.stdout.startswith("tenant acme (id 1) created")
    listed = _wepos(tmp_path, "tenant", "list")
    assert listed.stdout.split() == ["1", "acme", "123", "console", "no", "waba", "id"]


@pytest.mark.e2e  # a real server or the installed command in its own process
def test_a_command_on_an_unmigrated_or_unreachable_database_says_what_to_do_in_one_line(
    tmp_path: Path, postgres_url: str
) -> None:
    unmigrated = _wepos(tmp_path, "tenant", "list", WEPOS_DATABASE_URL=postgres_url)
    assert unmigrated.returncode == 2
    assert re.fullmatch(
        r"error: the database schema is at nothing, not \w+: run `wepos migrate` first",
        unmigrated.stderr.strip(),
    ), unmigrated.stderr
    down = _wepos(
        tmp_path, "tenant", "list", WEPOS_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/none"
    )
    assert down.returncode == 2
    (line,) = down.stderr.strip().splitlines()
    assert line.startswith("error: the database cannot be used (") and "Traceback" not in down.stderr
    unknown = _wepos(tmp_path, "knowledge", "list", "--tenant", "nope")
    assert (unknown.returncode, unknown.stderr.strip()) == (2, "error: no tenant named 'nope'")
