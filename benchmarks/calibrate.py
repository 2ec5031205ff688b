"""Choosing the answer confidence on the dev halves: what each threshold would send, and a fitted score.

    python -m benchmarks.answers --split dev --evidence dev.jsonl [--sets ...]
    python -m benchmarks.calibrate dev.jsonl [more.jsonl ...] [--max-wrong 10]

Reads the rows `benchmarks.answers --evidence` wrote (every extracted answer sent, with what its confidence
is made of) and prints, for the product's confidence, the share correct and confidently wrong at each
threshold and the threshold with the most correct answers at most `--max-wrong` % wrong. Then it fits a
logistic model of "this reply is correct" on the same evidence (leave-one-set-out, so a set's figures come
from weights fitted without it) and prints the same curve for it. Dev rows only: the test half is
reported, never tuned on.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FEATURES = ("passage", "unit", "coverage", "context_coverage", "margin")


def load(paths: Sequence[Path], language: str = "en") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and (row := json.loads(line))["language"] == language:
                rows.append(row)
    return rows


def curve(rows: Sequence[dict[str, Any]], scores: Sequence[float | None]) -> list[tuple[float, float, float]]:
    """(threshold, % correct, % confidently wrong) for every distinct score, highest threshold first."""
    n = len(rows)
    points = []
    for threshold in sorted({s for s in scores if s is not None}, reverse=True):
        sent = [r for r, s in zip(rows, scores, strict=True) if s is not None and s >= threshold]
        correct = sum(r["correct"] for r in sent)
        points.append((threshold, 100 * correct / n, 100 * (len(sent) - correct) / n))
    return points


def best(points: Sequence[tuple[float, float, float]], max_wrong: float) -> tuple[float, float, float] | None:
    allowed = [p for p in points if p[2] <= max_wrong]
    return max(allowed, key=lambda p: (p[1], -p[2], p[0])) if allowed else None


def fit(rows: Sequence[dict[str, Any]], l2: float = 1.0, steps: int = 3000) -> list[float]:
    """Logistic regression (bias first) of `correct` on FEATURES, by gradient descent, L2-regularised."""
    data = [
        ([1.0, *(r["evidence"][f] for f in FEATURES)], float(r["correct"])) for r in rows if r["evidence"]
    ]
    weights = [0.0] * (len(FEATURES) + 1)
    rate = 0.5
    for _ in range(steps):
        grad = [0.0] * len(weights)
        for x, y in data:
            p = _sigmoid(sum(w * v for w, v in zip(weights, x, strict=True)))
            for i, v in enumerate(x):
                grad[i] += (p - y) * v
        for i in range(len(weights)):
            penalty = l2 * weights[i] if i else 0.0
            weights[i] -= rate * (grad[i] + penalty) / len(data)
    return weights


def predict(weights: Sequence[float], row: dict[str, Any]) -> float | None:
    if not row["evidence"]:
        return None
    x = [1.0, *(row["evidence"][f] for f in FEATURES)]
    return _sigmoid(sum(w * v for w, v in zip(weights, x, strict=True)))


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def report(
    name: str, rows: Sequence[dict[str, Any]], scores: Sequence[float | None], max_wrong: float
) -> None:
    points = curve(rows, scores)
    chosen = best(points, max_wrong)
    print(f"{name}: n {len(rows)}; all sent: {points[-1][1]:.1f}% correct, {points[-1][2]:.1f}% wrong")
    for threshold, correct, wrong in points[:: max(1, len(points) // 12)]:
        print(f"  >= {threshold:.3f}: {correct:5.1f}% correct {wrong:5.1f}% wrong")
    if chosen:
        print(
            f"  chosen (at most {max_wrong}% wrong): >= {chosen[0]:.3f}: {chosen[1]:.1f}% correct, {chosen[2]:.1f}% wrong"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("evidence", nargs="+", type=Path)
    parser.add_argument("--max-wrong", type=float, default=10.0)
    args = parser.parse_args()
    rows = load(args.evidence)
    report(
        "confidence",
        rows,
        [r["evidence"]["confidence"] if r["evidence"] else None for r in rows],
        args.max_wrong,
    )
    sets = sorted({r["set"] for r in rows})
    held_out: dict[int, float | None] = {}
    for name in sets if len(sets) > 1 else []:
        weights = fit([r for r in rows if r["set"] != name])
        for i, row in enumerate(rows):
            if row["set"] == name:
                held_out[i] = predict(weights, row)
    if held_out:
        scores = [held_out[i] for i in range(len(rows))]
        report("fitted, each set scored by weights fitted without it", rows, scores, args.max_wrong)
    weights = fit(rows)
    print("weights on all rows:", dict(zip(("bias", *FEATURES), (round(w, 3) for w in weights), strict=True)))
    report("fitted on all rows", rows, [predict(weights, r) for r in rows], args.max_wrong)


if __name__ == "__main__":
    main()
