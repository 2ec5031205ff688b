"""Real processes: `wepos serve --no-worker` beside `wepos worker` processes, killed and stopped mid-turn."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from api.runtime import Runtime
from bot.models import Direction, InboundStatus, Message, OutboundStatus
from core.db import session_scope
from testing.graph_api import GraphStandIn
from testing.servers import free_port
from tests.conftest import APP_SECRET, MODEL_CACHE, VERIFY_TOKEN, make_settings
from tests.helpers import HTTP, demo_runtime, post, text_payload, wait_settled, wait_until
from tests.llm_stand_in import OpenAIStandIn

pytestmark = pytest.mark.e2e
WEPOS = str(Path(sys.executable).parent / "wepos")


@pytest.fixture
def llm() -> Iterator[OpenAIStandIn]:
    stand_in = OpenAIStandIn()
    yield stand_in
    stand_in.close()


def test_a_worker_killed_mid_turn_is_replaced_and_the_message_is_answered_exactly_once(
    tmp_path: Path,
    database_url: str,
    graph: GraphStandIn,
    llm: OpenAIStandIn,
    analyzer,
    embeddings,  # type: ignore[no-untyped-def]
) -> None:
    vault_key = Fernet.generate_key().decode()
    env = {
        **os.environ,
        "WEPOS_DATA_DIR": str(tmp_path / "var"),
        "WEPOS_MULTILINGUAL": "false",
        "WEPOS_DATABASE_URL": database_url,
        "WEPOS_WHATSAPP_APP_SECRET": APP_SECRET,
        "WEPOS_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WEPOS_VAULT_KEY": vault_key,
        "WEPOS_WHATSAPP_API_BASE": graph.base_url,
        "WEPOS_LLM_PROVIDER": "openai",
        "WEPOS_LLM_BASE_URL": llm.base_url,
        "WEPOS_LLM_MODEL": "loopback-model",
        "WEPOS_LLM_TIMEOUT_S": "60",
        "WEPOS_WORKER_LEASE_S": "3",
        "WEPOS_WORKER_POLL_S": "0.1",
        "WEPOS_LOG_LEVEL": "WARNING",
        "WEPOS_MODEL_CACHE_DIR": str(MODEL_CACHE),
    }
    settings = make_settings(
        tmp_path / "var", database_url, vault_key=vault_key, whatsapp_api_base=graph.base_url
    )
    runtime, _business_id = demo_runtime(settings, analyzer, embeddings)
    runtime.close()  # gives up the embedded vector store to the processes under test
    check = Runtime(settings, analyzer=analyzer, embeddings=embeddings)  # reads their database only

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    api = subprocess.Popen([WEPOS, "serve", "--no-worker", "--port", str(port)], **quiet)  # type: ignore[call-overload]
    processes = [api]
    try:
        assert wait_until(lambda: _healthy(url), 60), "the API did not start"
        first = subprocess.Popen([WEPOS, "worker"], **quiet)  # type: ignore[call-overload]
        processes.append(first)

        llm.mode, llm.delay = "slow", 120
        assert post(url, text_payload("Can I bring my dog?")).status_code == 200
        assert wait_until(lambda: len(llm.requests) == 1, 60), "the worker never started the turn"
        first.send_signal(signal.SIGKILL)  # mid-turn: the model has not answered yet
        first.wait(10)

        llm.mode = "obey"
        second = subprocess.Popen([WEPOS, "worker"], **quiet)  # type: ignore[call-overload]
        processes.append(second)
        assert wait_until(lambda: len(graph.sends) == 1, 60), "the message was never answered"
        wait_settled(check)  # the killed worker's claim is settled too: nothing more will be sent
        assert len(graph.sends) == 1
        assert "Dogs are welcome" in graph.body(graph.sends[0])

        # Graceful shutdown: SIGTERM mid-turn finishes the turn, sends the reply, then exits.
        llm.mode, llm.delay = "slow", 2
        assert (
            post(
                url, text_payload("Do you sell vegan cakes?", sender="447700900999", name="Ann Other")
            ).status_code
            == 200
        )
        assert wait_until(lambda: len(llm.requests) == 3, 30)
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0
        assert len(graph.sends) == 2 and "vegan" in graph.body(graph.sends[1])
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(30)

    with session_scope(check.engine) as session:
        rows = session.exec(select(Message).order_by(Message.id)).all()  # type: ignore[arg-type]
    check.close()
    assert [(m.direction, m.status) for m in rows] == [
        (Direction.INBOUND, InboundStatus.ANSWERED),
        (Direction.OUTBOUND, OutboundStatus.SENT),
        (Direction.INBOUND, InboundStatus.ANSWERED),
        (Direction.OUTBOUND, OutboundStatus.SENT),
    ]


def _healthy(url: str) -> bool:
    try:
        return HTTP.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
