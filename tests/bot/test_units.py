"""Passages read as units: a heading is context, a list item keeps its lead-in, a table row its header, and
the reply is the smallest span that reads on its own."""

from __future__ import annotations

from bot.turn.responders import AnswerRequest, ExtractiveResponder
from bot.turn.units import UnitKind, parse_units, reply_span
from ingest.chunking import CONTINUED, split_document
from ingest.loaders import load_document
from retrieval.lexical import BM25Index
from retrieval.search import Passage

WRAPPED = """Syncthing supports archiving the old version of a file when it is deleted or
replaced with a newer version from the cluster. This is called "file
versioning" and uses one of the available *versioning strategies*.

Trash Can File Versioning

When a file is deleted or replaced, it is moved to
the trash can in the .stversions folder."""


def test_a_hard_wrapped_paragraph_is_read_as_sentences_and_a_lone_title_line_as_a_heading() -> None:
    units = parse_units(WRAPPED)
    assert [u.kind for u in units] == [
        UnitKind.SENTENCE,
        UnitKind.SENTENCE,
        UnitKind.HEADING,
        UnitKind.SENTENCE,
    ]
    assert units[0].text.endswith("replaced with a newer version from the cluster.")
    assert (
        units[1].text
        == 'This is called "file versioning" and uses one of the available versioning strategies.'
    )
    assert units[3].heading == 2
    assert (
        units[3].text
        == "When a file is deleted or replaced, it is moved to the trash can in the .stversions folder."
    )


LIST = """Collaborators can:

- Add photos to the album
- Delete photos they uploaded themselves
- Suggest deletion for photos owned by
  others

Viewers can only look."""


def test_a_list_item_keeps_its_lead_in_and_the_reply_reads_the_whole_list() -> None:
    units = parse_units(LIST)
    items = [u for u in units if u.kind is UnitKind.ITEM]
    assert [u.text for u in items] == [
        "Add photos to the album",
        "Delete photos they uploaded themselves",
        "Suggest deletion for photos owned by others",
    ]
    assert {u.lead for u in items} == {0}
    assert reply_span(units, [items[1].position]) == (
        "Collaborators can:\n- Add photos to the album\n- Delete photos they uploaded themselves\n"
        "- Suggest deletion for photos owned by others"
    )
    # The lead-in line chosen alone brings its items; the sentence after the list does not join it.
    assert reply_span(units, [0]).count("\n- ") == 3
    assert "Viewers" not in reply_span(units, [0])


def test_a_table_row_is_one_unit_with_its_header_and_a_leaning_sentence_brings_the_one_before() -> None:
    units = parse_units(
        "| Service | Price |\n|---|---|\n| Puncture repair while you wait | £12 per wheel |\n"
        "| Brake bleed | £25 |\n\nWe service every brand. This includes e-bikes."
    )
    rows = [u for u in units if u.kind is UnitKind.ROW]
    assert [r.text for r in rows] == [
        "Service | Price",
        "Puncture repair while you wait | £12 per wheel",
        "Brake bleed | £25",
    ]
    assert rows[1].lead == rows[0].position
    assert (
        reply_span(units, [rows[1].position])
        == "Service | Price\nPuncture repair while you wait | £12 per wheel"
    )
    assert reply_span(units, [units[-1].position]) == "We service every brand. This includes e-bikes."


def test_html_lists_and_tables_reach_the_chunks_as_items_and_rows() -> None:
    html = (
        b"<html><head><title>Workshop</title></head><body><h2>Prices</h2><p>Our prices:</p>"
        b"<ul><li>Puncture repair: \xc2\xa312 per wheel</li><li>Full service: \xc2\xa380</li></ul>"
        b"<table><tr><th>Hire</th><th>Price</th></tr><tr><td>Day hire</td><td>\xc2\xa330</td></tr></table>"
        b"</body></html>"
    )
    (section,) = load_document("workshop.html", html).sections
    units = parse_units(section.text)
    assert [(u.kind, u.text) for u in units] == [
        (UnitKind.SENTENCE, "Our prices:"),
        (UnitKind.ITEM, "Puncture repair: £12 per wheel"),
        (UnitKind.ITEM, "Full service: £80"),
        (UnitKind.ROW, "Hire | Price"),
        (UnitKind.ROW, "Day hire | £30"),
    ]


SHOP = [
    "Bike hire > Prices\nDay hire costs £30 a day, helmet included. Half-day hire costs £18.",
    "Workshop > Services\nPuncture repair while you wait: £12 per wheel.\n"
    "Full service: £80, ready the next day.\n"
    "Bike fitting session with a physiotherapist: £150, 90 minutes, by appointment on Wednesdays only.",
]


def test_rare_words_pick_the_sentence_that_answers(embeddings) -> None:  # type: ignore[no-untyped-def]
    idf = BM25Index(SHOP).idf
    passages = [Passage(f"v{i}", i, text.partition(" >")[0], text, 0.6) for i, text in enumerate(SHOP)]
    responder = ExtractiveResponder(embeddings)

    def ask(question: str) -> str:
        request = AnswerRequest(question, passages, "Spokes", term_weights=idf)
        return responder.answer(request).text

    assert "physiotherapist: £150" in ask("what does the bike fitting cost and which day")
    assert "£12 per wheel" in ask("how much for a puncture repair")


def test_a_short_faq_answer_is_sent_whole(embeddings) -> None:  # type: ignore[no-untyped-def]
    text = (
        "Returns > Can I get my money back?\nQ: Can I get my money back?\nA: Yes. Bring the item back within "
        "30 days with its receipt.\n\nWe refund to the card you paid with; cash purchases are refunded in cash."
    )
    passage = Passage("v1", 1, "Returns", text, 0.8)
    answer = ExtractiveResponder(embeddings).answer(
        AnswerRequest("can i get my money back", [passage], "Spokes", answer_confidence=-1)
    )
    assert "30 days with its receipt" in answer.text and "refunded in cash" in answer.text


UPGRADES = (
    "Storage and plans > What happens when I upgrade my plan?\n"
    "Yes, at once.\n\n"
    "Your new plan goes into effect immediately, and you only pay the difference. We adjust the balance\n"
    "left on the old plan when we invoice you for the new one.\n\n"
    "How prorating works for upgrades:\n"
    "- Unused balance from the old plan: $2 x (15/30) = $1\n"
    "- Amount you pay now for a yearly plan upgrade: $48 - $10 = $38\n"
)


def test_the_opening_of_a_section_under_a_question_heading_answers_it(embeddings) -> None:  # type: ignore[no-untyped-def]
    passage = Passage("v1", 1, "Storage and plans", UPGRADES, 0.7)
    request = AnswerRequest("what happens if I upgrade my plan?", [passage], "Ente", answer_confidence=-1)
    reply = ExtractiveResponder(embeddings).answer(request).text
    # "Yes, at once." is too short to stand alone: the paragraph after it comes too, the example list not.
    assert "Yes, at once." in reply and "you only pay the difference" in reply
    assert "$48 - $10" not in reply


def test_a_later_chunk_of_a_section_is_marked_as_its_continuation() -> None:
    text = "## Prices\n\n" + "\n\n".join(f"Paragraph {n} says something about prices." * 4 for n in range(8))
    chunks = split_document(load_document("prices.md", text.encode()), chunk_size=300, chunk_overlap=0)
    contexts = [chunk.text.partition("\n")[0] for chunk in chunks]
    assert len(contexts) > 2 and contexts[0] == "prices > Prices"
    assert all(context == f"prices > Prices {CONTINUED}" for context in contexts[1:])
