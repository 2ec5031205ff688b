"""Load: many customers at once against real server processes, embedded and scaled.

    python -m benchmarks.load [--customers 200] [--rate 100] [--seconds 10] [--json]
    python -m benchmarks.load --during-ingest [--customers 60 --rate 5] [--json]

(a) embedded: `wepos serve` with its defaults (SQLite, embedded Chroma, one worker process);
(b) scaled: `wepos serve --workers 2` on PostgreSQL and a Chroma server (skipped when no PostgreSQL).
With `--during-ingest` each setup runs the load twice on the same warm server: once alone (baseline),
then while a help-centre document of 400 sections (~250 KB of Markdown) is uploaded through
`POST /v1/knowledge/documents`, the load going on until its job is done; the acknowledgement figures of the
two are reported side by side. This process is the load generator; the loopback Graph API stand-in runs in a process of its own. Once the
server is warm (workers ready, one message answered), it posts signed webhooks at a fixed rate (open loop,
round robin over the customers) for a bounded time, then waits for the replies. Loopback only. Beside the
latencies and rates it reports the CPU time the API and the workers spent per message, which other work on
a shared machine moves far less than it moves the wall-clock figures.

To compare with another checkout's code under the same load, put it first on the server's path:
`PYTHONPATH=/path/to/other/checkout python -m benchmarks.load` (the load generator runs from here; the API
and its worker processes import from the other checkout, which `python -c "import bot; print(bot)"` under
the same PYTHONPATH confirms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from benchmarks._setup import APP_SECRET, EXAMPLES, PHONE_NUMBER_ID, percentile, throwaway_postgres
from bot.channel.whatsapp import signed_headers, text_webhook
from testing.graph_api import GraphStandIn
from testing.servers import free_port

# Questions the demo knowledge base answers with confidence: a "not sure" would hand the customer to a
# person and silence the bot, which this benchmark would count as lost.
QUESTIONS = [
    "When are you open on Sunday?",
    "Do you deliver on Mondays?",
    "How much notice do you need for a celebration cake?",
    "Is there gluten free bread?",
    "Can I bring my dog?",
    "Do you take Apple Pay?",
    "Do you sell vegan cakes?",
    "Can I get a refund on a cake deposit?",
    "Do you have a loyalty card?",
    "Is there Wi-Fi in the shop?",
]
WEPOS = str(Path(sys.executable).parent / "wepos")
REPLY_TIMEOUT_S = 240
START_TIMEOUT_S = 120
WARM_UP_SENDER = "447099999999"  # not one of the measured customers


class GraphProcess:
    """The Graph API stand-in in a process of its own, as Meta's servers are: in this one, its threads would
    share the load generator's interpreter lock and delay the requests whose latency is being measured."""

    def __init__(self, latency_s: float = 0.0) -> None:
        self._conn, child = multiprocessing.get_context("spawn").Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve_graph, args=(child, latency_s), daemon=True
        )
        self._process.start()
        self.base_url: str = self._conn.recv()
        self._received: dict[str, list[float]] = {}

    def refresh(self) -> None:
        """Fetch when each customer's messages arrived (perf_counter seconds, comparable across processes)."""
        self._conn.send("snapshot")
        self._received = self._conn.recv()

    def count_to(self, wa_id: str) -> int:
        return len(self._received.get(wa_id, []))

    def first_to(self, wa_id: str, index: int) -> float:
        return self._received[wa_id][index]

    def close(self) -> None:
        self._conn.send("close")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


def _serve_graph(conn: Connection, latency_s: float) -> None:
    graph = GraphStandIn(latency_s)
    conn.send(graph.base_url)
    while (command := conn.recv()) != "close":
        assert command == "snapshot"
        conn.send(graph.received())
    graph.close()


def _env(data_dir: Path, graph: GraphProcess, args: argparse.Namespace, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEPOS_")}
    if args.send_lanes is not None:
        extra["WEPOS_SEND_LANES"] = str(args.send_lanes)
    env.update(
        {
            "WEPOS_DATA_DIR": str(data_dir),
            "WEPOS_WHATSAPP_APP_SECRET": APP_SECRET,
            "WEPOS_WHATSAPP_VERIFY_TOKEN": "benchmark-verify-token",
            "WEPOS_VAULT_KEY": Fernet.generate_key().decode(),
            "WEPOS_WHATSAPP_API_BASE": graph.base_url,
            "WEPOS_LOG_LEVEL": "WARNING",
            "WEPOS_WORKER_POLL_S": "0.05",
            **extra,
        }
    )
    return env


def _run(args: list[str], env: dict[str, str]) -> str:
    return subprocess.run([WEPOS, *args], env=env, check=True, stdout=subprocess.PIPE, text=True).stdout


HELP_TOPICS = ["orders", "delivery", "returns", "payments", "accounts", "cakes", "allergens", "gift cards"]


def help_centre_markdown(sections: int = 400) -> bytes:
    """A help centre as one Markdown file: `sections` articles of a few paragraphs, a list and a price
    line each (about 250 KB for 400), the size of a real business's export."""
    parts = ["# Help centre\n"]
    for n in range(sections):
        topic = HELP_TOPICS[n % len(HELP_TOPICS)]
        parts.append(
            f"## {topic.title()} question {n}\n\n"
            f"This article explains how {topic} work for order type {n}. Most customers find the answer in "
            f"the first paragraph; if yours is not here, reply to us on WhatsApp and a person will help. "
            f"Article {n} was last reviewed by the shop team this season.\n\n"
            f"- Step one for {topic} {n}: open the order page and choose the item.\n"
            f"- Step two: check the date and the collection point, then confirm.\n"
            f"- Step three: keep the confirmation message until the order is complete.\n\n"
            f"The fee for service {n} is {n % 17 + 2} pounds, paid when the order is placed. Refunds for "
            f"{topic} are made to the card used within five working days.\n"
        )
    return "\n".join(parts).encode()


class Ingest(threading.Thread):
    """Uploads the help centre through the API, then waits for its job: `done` is set when it has ended."""

    def __init__(self, url: str, api_key: str) -> None:
        super().__init__(name="benchmark-ingest", daemon=True)
        self._url, self._key = url, api_key
        self.done = threading.Event()
        self.seconds = 0.0
        self.chunks = 0
        self.error: str | None = None

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self._key}"}
        started = time.perf_counter()
        try:
            response = httpx.post(
                f"{self._url}/v1/knowledge/documents",
                files={"files": ("help-centre.md", help_centre_markdown(), "text/markdown")},
                headers=headers,
                timeout=60,
            )
            response.raise_for_status()
            job = f"{self._url}/v1/knowledge/jobs/{response.json()['id']}"
            deadline = time.monotonic() + MAX_INGEST_S
            while time.monotonic() < deadline:
                body = httpx.get(job, headers=headers, timeout=30).json()
                if body["status"] in ("done", "failed"):
                    self.chunks = sum(int(r.get("chunks") or 0) for r in body.get("results", []))
                    self.error = body.get("error") or (None if body["failed"] == 0 else "a file failed")
                    break
                time.sleep(0.5)
            else:
                self.error = "the job did not finish"
        except httpx.HTTPError as exc:
            self.error = type(exc).__name__
        self.seconds = time.perf_counter() - started
        self.done.set()


MAX_INGEST_S = 600


def _prepare(env: dict[str, str]) -> None:
    _run(["migrate"], env)
    _run(
        [
            "tenant",
            "create",
            "demo-bakery",
            "--phone-number-id",
            PHONE_NUMBER_ID,
            "--access-token",
            "EAAbench",
            # The first-contact notice is one more message per customer, not an answer: counted, it would
            # read as a duplicate.
            "--no-privacy-notice",
        ],
        env,
    )
    _run(["ingest", "--tenant", "demo-bakery", str(EXAMPLES)], env)


def _start_server(
    env: dict[str, str], graph: GraphProcess, port: int, workers: int = 0
) -> subprocess.Popen[bytes]:
    """`wepos serve`, returned once it answers /readyz, its worker processes have loaded their models, and a
    first message has been answered (a long-running server is warm; start-up is not what is measured)."""
    server = subprocess.Popen(
        [WEPOS, "serve", "--port", str(port), *(["--workers", str(workers)] if workers else [])],
        env=env,
        stdout=subprocess.PIPE,
    )
    ready = threading.Semaphore(0)

    def read_stdout() -> None:
        assert server.stdout is not None
        for line in server.stdout:  # read to the end, so no process ever blocks on a full pipe
            if line.startswith(b"wepos worker") and line.rstrip().endswith(b"ready"):
                ready.release()

    threading.Thread(target=read_stdout, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, server)
        for _ in range(workers):
            if not ready.acquire(timeout=START_TIMEOUT_S):
                raise SystemExit("a worker process did not become ready")
        _warm_up(url, graph)
    except BaseException:
        _stop(server)
        raise
    return server


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()  # SIGTERM: `wepos serve` stops its workers after their turn in flight
    try:
        server.wait(120)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not become ready")


def _warm_up(url: str, graph: GraphProcess) -> None:
    """One message from a customer outside the measured ones, answered before the load starts."""
    body = json.dumps(
        text_webhook(
            phone_number_id=PHONE_NUMBER_ID,
            sender=WARM_UP_SENDER,
            name="Warm Up",
            wa_message_id=f"wamid.warm-{uuid.uuid4().hex}",
            text=QUESTIONS[0],
        )
    ).encode()
    response = httpx.post(
        f"{url}/webhooks/whatsapp",
        content=body,
        headers=signed_headers(APP_SECRET.encode(), body),
        timeout=30,
    )
    response.raise_for_status()
    deadline = time.monotonic() + START_TIMEOUT_S
    while graph.count_to(WARM_UP_SENDER) < 1:
        if time.monotonic() > deadline:
            raise SystemExit("the warm-up message was not answered")
        time.sleep(0.05)
        graph.refresh()


def _cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time (user + system) of a process and of each of its children, from /proc (Linux): a figure the
    other work on a shared machine barely moves, unlike wall-clock rates."""
    ticks = os.sysconf("SC_CLK_TCK")

    def of(process: int) -> float:
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {"api": of(pid), **{f"worker-{child}": of(int(child)) for child in children}}


class _Connections:
    """A keep-alive HTTP/1.1 client for the one request the load posts, on asyncio streams: httpx's
    AsyncClient spent about a millisecond of this process's CPU on each request, time that the acks
    measured here included while the server under test held both cores (Meta's senders are not on them)."""

    # Well inside uvicorn's keep-alive timeout (5 s): a connection the server closed is never used.
    IDLE_S = 2.0
    TIMEOUT_S = 30.0

    def __init__(self, url: str, limit: int) -> None:
        self._host, port = url.removeprefix("http://").split(":")
        self._port = int(port)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._open = asyncio.Semaphore(limit)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """The response's status code (its body is read and dropped); 0 when it failed or timed out."""
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"POST {path} HTTP/1.1\r\nHost: {self._host}\r\nContent-Length: {len(body)}\r\n{head}\r\n"
        async with self._open:
            try:
                reader, writer = await self._connection()
            except OSError:
                return 0
            try:
                async with asyncio.timeout(self.TIMEOUT_S):
                    writer.write(request.encode() + body)
                    status, *lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                    length = next(
                        int(v)
                        for k, _, v in (line.partition(":") for line in lines)
                        if k.lower() == "content-length"
                    )
                    await reader.readexactly(length)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, StopIteration):
                writer.close()
                return 0
            self._idle.append((reader, writer, time.monotonic()))
            return int(status.split()[1])

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self._idle:
            reader, writer, used = self._idle.pop()
            if time.monotonic() - used < self.IDLE_S:
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self._host, self._port)

    def close(self) -> None:
        for _reader, writer, _used in self._idle:
            writer.close()
        self._idle.clear()


async def _load(
    url: str,
    graph: GraphProcess,
    customers: int,
    rate: float,
    seconds: float,
    server_pid: int,
    until: threading.Event | None = None,
) -> dict[str, object]:
    """Post at `rate` for `seconds`, and on while `until` is not set (at most MAX_INGEST_S)."""
    total = int(rate * seconds)
    senders = [f"4470{i:08d}" for i in range(customers)]
    sent: Counter[str] = Counter()
    acks: list[float] = []
    started_at: dict[str, list[float]] = {}
    failures = 0

    async def one(client: _Connections, index: int) -> None:
        nonlocal failures
        sender = senders[index % customers]
        body = json.dumps(
            text_webhook(
                phone_number_id=PHONE_NUMBER_ID,
                sender=sender,
                name=f"Customer {index % customers}",
                wa_message_id=f"wamid.load-{uuid.uuid4().hex}",
                text=QUESTIONS[index % len(QUESTIONS)],
            )
        ).encode()
        started = time.perf_counter()
        started_at.setdefault(sender, []).append(started)
        status = await client.post("/webhooks/whatsapp", body, signed_headers(APP_SECRET.encode(), body))
        acks.append((time.perf_counter() - started) * 1000)
        if status == 200:
            sent[sender] += 1
        else:
            failures += 1

    graph.refresh()  # replies of an earlier run on this server are not this run's
    earlier = {sender: graph.count_to(sender) for sender in senders}

    def count_to(sender: str) -> int:
        return graph.count_to(sender) - earlier[sender]

    client = _Connections(url, limit=200)
    first = time.perf_counter()
    cpu_before = _cpu_seconds(server_pid)
    tasks = []
    index = -1
    while (index := index + 1) < total or (
        until is not None and not until.is_set() and time.perf_counter() - first < MAX_INGEST_S
    ):
        delay = first + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(client, index)))
    await asyncio.gather(*tasks)
    total = len(tasks)
    client.close()
    expected = sum(sent.values())
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    graph.refresh()
    while time.monotonic() < deadline and sum(min(count_to(s), n) for s, n in sent.items()) < expected:
        await asyncio.sleep(0.1)
        graph.refresh()
    last_reply = time.perf_counter()
    cpu = {name: spent - cpu_before.get(name, 0.0) for name, spent in _cpu_seconds(server_pid).items()}
    await asyncio.sleep(2)  # late duplicates would arrive now
    graph.refresh()
    replies = []
    for sender, count in sent.items():
        for turn in range(min(count, count_to(sender))):
            replies.append((graph.first_to(sender, earlier[sender] + turn) - started_at[sender][turn]) * 1000)
    answered = sum(min(count_to(s), n) for s, n in sent.items())
    duplicated = sum(max(0, count_to(s) - n) for s, n in sent.items())
    return {
        "messages": total,
        "rejected": failures,
        "ack_p50_ms": round(percentile(acks, 50), 1),
        "ack_p99_ms": round(percentile(acks, 99), 1),
        "ack_max_ms": round(max(acks), 1),
        "reply_p50_ms": round(percentile(replies, 50), 1) if replies else None,
        "reply_p95_ms": round(percentile(replies, 95), 1) if replies else None,
        "messages_per_s": round(answered / (last_reply - first), 1),
        "lost": expected - answered,
        "duplicated": duplicated,
        # Per message, until the last reply: the API (webhooks) and all workers (turns and sends).
        "api_cpu_ms_per_message": round(cpu.pop("api") * 1000 / total, 2),
        "worker_cpu_ms_per_message": round(sum(cpu.values()) * 1000 / max(answered, 1), 2),
    }


def _measure(
    url: str, graph: GraphProcess, args: argparse.Namespace, server_pid: int, env: dict[str, str]
) -> dict[str, object]:
    """The load on a warm server; with --during-ingest, a baseline and then the load during an upload."""
    baseline = asyncio.run(_load(url, graph, args.customers, args.rate, args.seconds, server_pid))
    if not args.during_ingest:
        return baseline
    ingest = Ingest(url, _run(["apikey", "create", "--tenant", "demo-bakery"], env).strip())
    ingest.start()
    during = asyncio.run(_load(url, graph, args.customers, args.rate, args.seconds, server_pid, ingest.done))
    ingest.join(MAX_INGEST_S)
    return {
        "baseline": baseline,
        "during_ingest": during,
        "ingest": {"seconds": round(ingest.seconds, 1), "chunks": ingest.chunks, "error": ingest.error},
    }


def _embedded(args: argparse.Namespace) -> dict[str, object]:
    graph = GraphProcess(args.graph_latency_ms / 1000)
    data_dir = Path(tempfile.mkdtemp(prefix="wepos-load-")) / "var"
    env = _env(data_dir, graph, args)
    _prepare(env)
    port = free_port()
    try:
        server = _start_server(env, graph, port)
        try:
            return _measure(f"http://127.0.0.1:{port}", graph, args, server.pid, env)
        finally:
            _stop(server)
    finally:
        graph.close()
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def _scaled(args: argparse.Namespace) -> dict[str, object]:
    with throwaway_postgres(args.postgres_url, "wepos_load") as database_url:
        if database_url is None:
            return {"skipped": "no PostgreSQL at --postgres-url"}
        graph = GraphProcess(args.graph_latency_ms / 1000)
        data_dir = Path(tempfile.mkdtemp(prefix="wepos-load-")) / "var"
        chroma_port, port = free_port(), free_port()
        chroma = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "chroma"),
                "run",
                "--path",
                str(data_dir.parent / "chroma"),
                "--host",
                "127.0.0.1",
                "--port",
                str(chroma_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        env = _env(
            data_dir,
            graph,
            args,
            WEPOS_DATABASE_URL=database_url,
            WEPOS_CHROMA_URL=f"http://127.0.0.1:{chroma_port}",
        )
        server = None
        try:
            time.sleep(2)
            _prepare(env)
            server = _start_server(env, graph, port, workers=2)
            return _measure(f"http://127.0.0.1:{port}", graph, args, server.pid, env)
        finally:
            if server is not None:
                _stop(server)  # before the database is dropped under its workers
            chroma.terminate()
            chroma.wait(30)
            graph.close()
            shutil.rmtree(data_dir.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0, help="webhooks per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "WEPOS_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--only", choices=["embedded", "scaled"])
    parser.add_argument(
        "--graph-latency-ms",
        type=float,
        default=0.0,
        help="how long the Graph API stand-in takes to answer each request (Meta's round trip: ~100 ms)",
    )
    parser.add_argument("--send-lanes", type=int, help="WEPOS_SEND_LANES for the server (default: its own)")
    parser.add_argument(
        "--during-ingest",
        action="store_true",
        help="measure without and then during the upload of a 400-section help centre",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {}
    if args.only != "scaled":
        result["embedded"] = _embedded(args)
    if args.only != "embedded":
        result["scaled"] = _scaled(args)
    if args.json:
        print(json.dumps(result))
    else:
        for setup, figures in result.items():
            print(f"{setup}: {figures}")


if __name__ == "__main__":
    main()
