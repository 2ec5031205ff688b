"""How close a customer's question must be to an approved answer's question: the matching threshold.

    python -m benchmarks.approved_answers [--json]

Each approved question below comes with paraphrases a customer might send (they should get the approved
answer) and with near misses: questions on the same subject that ask something else (they must not). The
cosine of every customer question against every approved question is computed with the packaged MiniLM,
on masked text as the turn sees it (a placeholder stands where the customer named themself). A question
"matches" when its best cosine, against any approved question, reaches the threshold; a paraphrase must
match its own. The script prints, for each candidate threshold, the paraphrases found and the near misses
and unrelated questions wrongly matched; `retrieval.approved.MATCH_THRESHOLD` is chosen from it.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

APPROVED: dict[str, list[str]] = {
    "Can you deliver a cake to my office?": [
        "Do you deliver cakes to offices?",
        "Hi, I'm <PERSON_1>. Could you bring a cake to our office?",
        "is office delivery possible for a birthday cake",
    ],
    "Do you make gluten-free bread?": [
        "Have you got any gluten free bread?",
        "Do you sell bread without gluten?",
        "gluten-free loaves available?",
    ],
    "Can I bring my dog into the shop?": [
        "Are dogs allowed in the shop?",
        "Is your bakery dog friendly?",
        "can i come in with my dog",
    ],
    "Do you have parking near the Mill Road shop?": [
        "Where can I park near Mill Road?",
        "Is there parking at the Mill Road bakery?",
        "any car park close to your mill road shop",
    ],
    "Can I pay with American Express?": [
        "Do you take Amex?",
        "Is American Express accepted?",
        "can I use an amex card to pay",
    ],
    "Do you offer bread-making classes?": [
        "Do you run baking classes?",
        "Can I take a bread making course with you?",
        "hi <PERSON_1> here, any bread baking workshops?",
    ],
}

NEAR_MISSES = [
    "Can you deliver bread on Sunday?",
    "How much does delivery cost?",
    "Do you make vegan cakes?",
    "Is the gluten-free bread made in a separate kitchen?",
    "Can I bring my dog to the café terrace at the other shop?",
    "What time does the Mill Road shop open?",
    "Can I pay by bank transfer?",
    "Do you sell bread flour?",
]

UNRELATED = [
    "When are you open on Sunday?",
    "What is your refund policy?",
    "Does the carrot cake contain nuts?",
    "I want to talk to a person",
    "Where is my order <PHONE_NUMBER_1>?",
    "Do you have a wholesale price list?",
    "thanks, that helped",
    "Hello",
]

THRESHOLDS = [0.6, 0.65, 0.7, 0.75, 0.78, 0.8, 0.82, 0.85]


def measure() -> dict[str, object]:
    from retrieval.approved import matching_text
    from retrieval.embeddings import MiniLMEmbeddings

    embeddings = MiniLMEmbeddings.load()
    approved = list(APPROVED)
    stored = np.array(embeddings.embed_documents([matching_text(q) for q in approved]))

    def best(question: str) -> tuple[int, float]:
        scores = stored @ np.array(embeddings.embed_query(matching_text(question)))
        return int(scores.argmax()), float(scores.max())

    paraphrases = [(i, best(p)) for i, q in enumerate(approved) for p in APPROVED[q]]
    wrong = [best(q)[1] for q in NEAR_MISSES + UNRELATED]
    rows = []
    for threshold in THRESHOLDS:
        found = sum(1 for own, (i, s) in paraphrases if i == own and s >= threshold)
        rows.append(
            {
                "threshold": threshold,
                "paraphrases_matched": f"{found}/{len(paraphrases)}",
                "others_matched": f"{sum(1 for s in wrong if s >= threshold)}/{len(wrong)}",
            }
        )
    return {
        "paraphrase_min": round(min(s for _, (_, s) in paraphrases), 3),
        "paraphrase_scores": sorted(round(s, 3) for _, (_, s) in paraphrases),
        "near_miss_max": round(max(best(q)[1] for q in NEAR_MISSES), 3),
        "near_miss_scores": sorted(round(best(q)[1], 3) for q in NEAR_MISSES),
        "unrelated_max": round(max(best(q)[1] for q in UNRELATED), 3),
        "thresholds": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for key, value in result.items():
        if key != "thresholds":
            print(f"{key}: {value}")
    for row in result["thresholds"]:  # type: ignore[attr-defined]
        print(
            f"  {row['threshold']:.2f}  paraphrases {row['paraphrases_matched']}  others {row['others_matched']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
