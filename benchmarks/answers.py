"""Answer quality end to end: does the bot answer a customer from the business's documents, or decline?

    python -m benchmarks.answers [--split test|dev|all] [--sets NAME ...] [--limit N] [--json]
        [--llm-base-url URL --llm-model NAME] [--evidence FILE]

Data: benchmarks/data/answers (see its README.md): per set, a business's documents as it would upload them
(Markdown, HTML, a CSV FAQ sheet, text) and customer questions, each with the facts a right answer must
state, some of them follow-ups, some that the documents cannot answer. Every set is cut into two halves by
a stable hash of each question's id (`split_of`, as in the PII benchmark): tune on `dev`, report `test`
(the default).

The product's parts, in process, with real engines: a throwaway data dir, a business per set, its documents
through `IngestPipeline.ingest_paths` (what `wepos ingest` and `wepos knowledge` use), and each question as
a WhatsApp message from a new customer through intake and `Assistant.handle` (what a webhook does; mask ->
retrieve -> answer -> queue), the queued reply read back unmasked. A follow-up's earlier message is sent
first from the same customer, in the same conversation. `wepos ask` answers one question with no
conversation, so the turn is used instead; it masks, retrieves and answers the same way.

Each reply is one of: "correct" (the question is answerable and the reply states every expected fact),
"confidently_wrong" (a confident answer that misses a fact, or any confident answer to a question the
documents cannot answer), "declined" (the bot said it is not sure and handed over, or sent nothing). For an
unanswerable question declining is right: "right" counts correct answers and declined unanswerable ones.
Latency is one question's turn (intake and the assistant, not the follow-up's earlier turn, no HTTP, no
delivery to the Graph API), in ms.

`--evidence FILE` is for choosing the confidence (benchmarks/calibrate.py reads it): every extracted answer is
sent whatever its confidence, and a JSON line a question records what its confidence is made of
(`Evidence`) and whether the reply, sent, would be correct.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._setup import fresh_runtime, percentile
from benchmarks.pdf_docs import base_set, render_set
from benchmarks.pii import split_of

if TYPE_CHECKING:
    from api.runtime import Runtime
    from bot.turn.responders import Answer, AnswerRequest, Responder

DATA = Path(__file__).resolve().parent / "data" / "answers"
SETS = ("logingov", "ente", "syncthing")
# Run by name (`--sets xquad`): questions in English, Spanish and German to English documents, for the
# multilingual index (retrieval/multilingual.py); `<set>-pdf`, a set's questions to its documents as PDFs
# (benchmarks/pdf_docs.py).
OTHER_SETS = ("xquad", "logingov-pdf", "ente-pdf")
SPLITS = ("test", "dev", "all")
# The name each set's business goes by: the bot says it when it declines.
DISPLAY_NAMES = {"logingov": "Login.gov", "ente": "Ente", "syncthing": "Syncthing"}
CUSTOMER_NAME = "Sam Taylor"


class Verdict(StrEnum):
    CORRECT = "correct"
    CONFIDENTLY_WRONG = "confidently_wrong"
    DECLINED = "declined"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    expected_facts: tuple[str, ...]
    answerable: bool
    previous: str | None = None
    language: str = "en"


@dataclass(frozen=True)
class Reply:
    text: str
    confident: bool  # False where the bot declined, handed over or sent nothing
    ms: float


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def classify(question: Question, reply_text: str, confident: bool) -> Verdict:
    """The verdict on one reply: declined unless confident; then correct only for an answerable question
    whose every expected fact is in the reply (case-insensitive, whitespace collapsed)."""
    if not confident:
        return Verdict.DECLINED
    if not question.answerable:
        return Verdict.CONFIDENTLY_WRONG
    said = normalise(reply_text)
    if all(normalise(fact) in said for fact in question.expected_facts):
        return Verdict.CORRECT
    return Verdict.CONFIDENTLY_WRONG


def is_right(question: Question, verdict: Verdict) -> bool:
    return verdict is (Verdict.CORRECT if question.answerable else Verdict.DECLINED)


def source_set(name: str) -> str:
    """The set whose questions and documents `name` uses: `logingov` for `logingov-pdf`."""
    return base_set(name) or name


def documents(name: str, data: Path = DATA, scratch: Path | None = None) -> list[Path]:
    """A set's documents; for a `<set>-pdf` set, `<set>`'s rendered to PDF under `scratch`."""
    base = base_set(name)
    if base is None:
        return sorted(path for path in (data / name / "docs").iterdir() if path.is_file())
    if scratch is None:
        raise ValueError(f"{name}: rendering PDFs needs a scratch directory")
    return render_set(documents(base, data), scratch / name)


def load_set(name: str, split: str = "all", limit: int | None = None, data: Path = DATA) -> list[Question]:
    """The questions of one set in `split` (`dev`, `test` or `all`), the first `limit` of them."""
    questions: list[Question] = []
    for line in (data / source_set(name) / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        # A set may split itself (XQuAD: by article, so no paragraph is in both halves).
        if split != "all" and row.get("split", split_of(row["id"])) != split:
            continue
        questions.append(
            Question(
                id=row["id"],
                question=row["question"],
                expected_facts=tuple(row["expected_facts"]),
                answerable=bool(row["answerable"]),
                previous=row.get("previous"),
                language=row.get("language", "en"),
            )
        )
        if limit is not None and len(questions) >= limit:
            break
    return questions


class Storefront:
    """One set's business in a throwaway Wepos, asked as its customers would ask on WhatsApp."""

    def __init__(self, runtime: Runtime, name: str, phone_number_id: str) -> None:
        from core.db import session_scope
        from core.tenants import create_business

        self.runtime = runtime
        self.phone_number_id = phone_number_id
        with session_scope(runtime.engine) as session:
            business = create_business(
                session,
                name=name,
                phone_number_id=phone_number_id,
                box=runtime.box,
                display_name=DISPLAY_NAMES.get(source_set(name), name),
                access_token="EAAbenchmark",
            )
            assert business.id is not None
            self.business_id = business.id
        self._customers = 0

    def upload(self, paths: Sequence[Path]) -> int:
        """The documents through the ingest pipeline, as `wepos ingest` sends them; the chunks indexed."""
        from ingest.pipeline import IngestStatus

        outcomes = self.runtime.pipeline.ingest_paths(self.business_id, paths)
        failed = [o for o in outcomes if o.status is IngestStatus.FAILED]
        if failed:
            raise SystemExit("; ".join(f"{o.source_name}: {o.error}" for o in failed))
        return sum(o.chunks for o in outcomes)

    def ask(self, question: Question) -> Reply:
        """The question from a new customer, after its earlier message where it is a follow-up."""
        self._customers += 1
        sender = f"4470{self.business_id:02d}{self._customers:06d}"
        if question.previous:
            self._turn(sender, question.previous)
        started = time.perf_counter()
        text, confident = self._turn(sender, question.question)
        return Reply(text, confident, (time.perf_counter() - started) * 1000)

    def _turn(self, sender: str, text: str) -> tuple[str, bool]:
        from sqlmodel import col, select

        from bot.channel.whatsapp import InboundMessage, WebhookBatch
        from bot.models import Message
        from core.db import session_scope
        from privacy.masker import unmask_text
        from privacy.vault import VaultScope

        message = InboundMessage(
            self.phone_number_id, f"wamid.answers-{uuid.uuid4().hex}", sender, CUSTOMER_NAME, "text", text
        )
        (message_id,) = self.runtime.intake.accept(WebhookBatch(messages=[message])).stored
        outcome = self.runtime.assistant.handle(message_id)
        with session_scope(self.runtime.engine) as session:
            replies = session.exec(
                select(Message).where(Message.in_reply_to_id == message_id).order_by(col(Message.id))
            ).all()
            shown = " ".join(
                unmask_text(
                    session,
                    self.runtime.vault,
                    reply.text_masked or "",
                    [VaultScope.conversation(reply.conversation_id), VaultScope.knowledge(self.business_id)],
                )
                for reply in replies
            )
        confident = outcome is not None and outcome.confident is True and outcome.handoff_reason is None
        return shown, confident and bool(replies)


class EvidenceRecorder:
    """Answers as the configured responder does and keeps each answer, for `--evidence`."""

    def __init__(self) -> None:
        self.inner: Responder | None = None
        self.answers: list[Answer] = []

    def answer(self, request: AnswerRequest) -> Answer:
        assert self.inner is not None, "set the responder the runtime's settings name first"
        answer = self.inner.answer(request)
        self.answers.append(answer)
        return answer

    def row(self, name: str, question: Question, reply: Reply) -> dict[str, Any]:
        """What the question's answer was sure of, and whether sending it was right."""
        turns = 2 if question.previous else 1
        answer = self.answers[-1] if len(self.answers) == turns else None
        evidence = answer.evidence if answer is not None else None
        return {
            "set": name,
            "id": question.id,
            "language": question.language,
            "answerable": question.answerable,
            "evidence": None if evidence is None else asdict(evidence),
            # The verdict had it been sent: only an extracted answer is (any other reply is a decline).
            "correct": evidence is not None and classify(question, reply.text, True) is Verdict.CORRECT,
            "question": question.question,
            "expected_facts": list(question.expected_facts),
            "reply": reply.text,
        }


def _share(part: int, whole: int) -> float:
    return round(100 * part / max(1, whole), 1)


def summarise(
    questions: Sequence[Question], verdicts: Sequence[Verdict], ms: Sequence[float]
) -> dict[str, Any]:
    """n, the three verdicts' shares (%), right (%), unanswerable declined and answerable correct (k of m),
    latency p50 and p95 in ms."""
    counts = Counter(verdicts)
    unanswerable = [v for q, v in zip(questions, verdicts, strict=True) if not q.answerable]
    answerable = [v for q, v in zip(questions, verdicts, strict=True) if q.answerable]
    n = len(questions)
    return {
        "n": n,
        "correct_pct": _share(counts[Verdict.CORRECT], n),
        "confidently_wrong_pct": _share(counts[Verdict.CONFIDENTLY_WRONG], n),
        "declined_pct": _share(counts[Verdict.DECLINED], n),
        "right_pct": _share(sum(is_right(q, v) for q, v in zip(questions, verdicts, strict=True)), n),
        "answerable_correct": [answerable.count(Verdict.CORRECT), len(answerable)],
        "unanswerable_declined": [unanswerable.count(Verdict.DECLINED), len(unanswerable)],
        "follow_ups": sum(q.previous is not None for q in questions),
        "latency_ms": {
            "p50": round(percentile(list(ms), 50), 1) if ms else None,
            "p95": round(percentile(list(ms), 95), 1) if ms else None,
        },
    }


def run(
    names: Sequence[str],
    split: str = "test",
    limit: int | None = None,
    data: Path = DATA,
    analyzer: object | None = None,
    embeddings: object | None = None,
    settings: dict[str, object] | None = None,
    evidence: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Every set's questions in `split` through a fresh Wepos; the runtime builds the configured engines
    where `analyzer` or `embeddings` is not given (tests pass theirs). `settings` overrides the defaults:
    an OpenAI-compatible model answers with `llm_provider`, `llm_base_url` and `llm_model`. Given an
    `evidence` list, every extracted answer is sent and a row a question is appended to it
    (`EvidenceRecorder.row`)."""
    from bot.turn.responders import build_responder

    engines: dict[str, object] = {
        k: v for k, v in {"analyzer": analyzer, "embeddings": embeddings}.items() if v is not None
    }
    recorder = EvidenceRecorder() if evidence is not None else None
    if recorder is not None:
        settings = (settings or {}) | {"answer_confidence": -1.0}
        engines["responder"] = recorder
    runtime = fresh_runtime(settings=settings, **engines)  # type: ignore[arg-type]
    if recorder is not None:
        recorder.inner = build_responder(runtime.settings, runtime.embeddings)
    results: dict[str, Any] = {"split": split, "sets": {}}
    all_questions: list[Question] = []
    all_verdicts: list[Verdict] = []
    all_ms: list[float] = []
    scratch = Path(tempfile.mkdtemp(prefix="wepos-answers-"))
    try:
        for index, name in enumerate(names, start=1):
            questions = load_set(name, split, limit, data)
            store = Storefront(runtime, name, f"1000000000{index:05d}")
            started = time.perf_counter()
            chunks = store.upload(documents(name, data, scratch))
            _progress(f"{name}: {chunks} chunks indexed in {time.perf_counter() - started:.1f} s")
            if runtime.multilingual_index is not None and any(q.language != "en" for q in questions):
                started = time.perf_counter()
                mirrored = runtime.multilingual_index.sync(store.business_id)
                _progress(
                    f"{name}: {mirrored} chunks in the multilingual index in {time.perf_counter() - started:.1f} s"
                )
            verdicts: list[Verdict] = []
            ms: list[float] = []
            for done, question in enumerate(questions, start=1):
                if recorder is not None:
                    recorder.answers.clear()
                reply = store.ask(question)
                verdicts.append(classify(question, reply.text, reply.confident))
                if recorder is not None and evidence is not None:
                    evidence.append(recorder.row(name, question, reply))
                ms.append(reply.ms)
                if done % 10 == 0:
                    _progress(f"{name}: {done}/{len(questions)} questions")
            results["sets"][name] = summarise(questions, verdicts, ms) | {
                "verdicts": {q.id: v.value for q, v in zip(questions, verdicts, strict=True)}
            }
            if len(languages := sorted({q.language for q in questions})) > 1:
                results["sets"][name]["by_language"] = {
                    language: summarise(*_of_language(language, questions, verdicts, ms))
                    for language in languages
                }
            all_questions += questions
            all_verdicts += verdicts
            all_ms += ms
    finally:
        runtime.close()
        shutil.rmtree(scratch, ignore_errors=True)
    results["overall"] = summarise(all_questions, all_verdicts, all_ms)
    return results


def _of_language(
    language: str, questions: Sequence[Question], verdicts: Sequence[Verdict], ms: Sequence[float]
) -> tuple[list[Question], list[Verdict], list[float]]:
    kept = [i for i, q in enumerate(questions) if q.language == language]
    return [questions[i] for i in kept], [verdicts[i] for i in kept], [ms[i] for i in kept]


def table(results: dict[str, Any]) -> str:
    """The figures as a readable table, a row a set and one overall."""
    header = (
        f"{'set':10} {'n':>4} {'correct':>8} {'wrong':>6} {'declined':>9} {'right':>6} "
        f"{'unans. declined':>16} {'p50 ms':>8} {'p95 ms':>8}"
    )
    lines = [f"split: {results['split']}", header]
    rows = []
    for name, figures in results["sets"].items():
        rows.append((name, figures))
        rows += [(f"  {language}", f) for language, f in figures.get("by_language", {}).items()]
    rows.append(("overall", results["overall"]))
    for name, s in rows:
        declined, unanswerable = s["unanswerable_declined"]
        lines.append(
            f"{name:10} {s['n']:>4} {s['correct_pct']:>7.1f}% {s['confidently_wrong_pct']:>5.1f}% "
            f"{s['declined_pct']:>8.1f}% {s['right_pct']:>5.1f}% {f'{declined} of {unanswerable}':>16} "
            f"{s['latency_ms']['p50']:>8} {s['latency_ms']['p95']:>8}"
        )
    return "\n".join(lines)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--split", choices=SPLITS, default="test", help="dev is for tuning (default: test)")
    parser.add_argument(
        "--sets",
        nargs="+",
        default=list(SETS),
        help=f"default: {' '.join(SETS)}; also {' '.join(OTHER_SETS)}",
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions of each set")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--llm-base-url", help="answer through this OpenAI-compatible server (default: extractive)"
    )
    parser.add_argument("--llm-model", default="", help="the model name the server knows")
    parser.add_argument(
        "--evidence",
        type=Path,
        help="send every extracted answer and write what each one's confidence is made of here (JSON lines)",
    )
    args = parser.parse_args()
    names = [name for part in args.sets for name in part.split(",") if name]
    unknown = [name for name in names if not (DATA / source_set(name) / "questions.jsonl").exists()]
    if unknown:
        raise SystemExit(f"no answer set named {', '.join(unknown)} under {DATA}")
    model = {"llm_provider": "openai", "llm_base_url": args.llm_base_url, "llm_model": args.llm_model}
    rows: list[dict[str, Any]] | None = [] if args.evidence else None
    results = run(names, args.split, args.limit, settings=model if args.llm_base_url else None, evidence=rows)
    if args.evidence and rows is not None:
        args.evidence.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    print(json.dumps(results) if args.json else table(results))


if __name__ == "__main__":
    main()
