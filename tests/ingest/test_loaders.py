"""Format readers on their own: what a file becomes, and the clear error a bad one gets."""

from __future__ import annotations

import io

import pytest

from core.errors import CorruptDocument, DocumentTooLarge
from ingest.loaders import load_document
from ingest.loaders.limits import MAX_PDF_PAGES, MAX_SHEET_ROWS
from tests.helpers import hand_written_pdf


def _xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    default = workbook.active
    assert default is not None
    workbook.remove(default)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_an_xlsx_faq_becomes_one_section_a_question_with_its_answer() -> None:
    data = _xlsx(
        {
            "Prices": [["item", "price"], ["jam", 4.5]],  # not the FAQ: skipped for the next sheet
            "FAQ": [
                ["Question", "Answer", "Owner"],
                ["Do you deliver on Sundays?", "No, Monday to Saturday only.", "ops"],
                [None, None, None],
                ["Gluten free?", "Two of our loaves are.", None],
                ["Unanswered?", None, None],
            ],
        }
    )
    document = load_document("help-faq.xlsx", data)
    assert document.title == "Help Faq"
    assert [(s.text, s.heading_path, s.atomic) for s in document.sections] == [
        (
            "Q: Do you deliver on Sundays?\nA: No, Monday to Saturday only.",
            ("Do you deliver on Sundays?",),
            True,
        ),
        ("Q: Gluten free?\nA: Two of our loaves are.", ("Gluten free?",), True),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04 truncated zip", "damaged or not a valid xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "password-protected or in the old .xls format"),
        (_xlsx({"Sheet": [["name", "price"], ["jam", 4]]}), "needs a 'question' and an 'answer' column"),
    ],
)
def test_a_bad_xlsx_gets_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(CorruptDocument, match=message):
        load_document("sheet.xlsx", data)


def test_an_empty_workbook_has_no_text() -> None:
    assert load_document("blank.xlsx", _xlsx({"Sheet": []})).is_empty


def _docx_bomb(unpacked_mib: int) -> bytes:
    """A valid-looking .docx whose one member inflates to `unpacked_mib` MiB (it compresses to ~1 KB a MiB)."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as member:
            chunk = b" " * (1024 * 1024)
            for _ in range(unpacked_mib):
                member.write(chunk)
    return buffer.getvalue()


def _pdf(pages: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "bomb.docx",
            _docx_bomb(101),
            "bomb.docx: unpacks to 101 MiB, more than the 100 MiB a document may hold",
        ),
        (
            "long.pdf",
            _pdf(MAX_PDF_PAGES + 1),
            f"long.pdf: more than {MAX_PDF_PAGES:,} pages; split it into several documents",
        ),
        (
            "faq.csv",
            b"question,answer\n" + b"Open?,Yes\n" * (MAX_SHEET_ROWS + 1),
            f"faq.csv: more than {MAX_SHEET_ROWS:,} rows; split it into several documents",
        ),
        (
            "faq.xlsx",
            _xlsx({"FAQ": [["question", "answer"], *[["Open?", "Yes"]] * (MAX_SHEET_ROWS + 1)]}),
            f"faq.xlsx: more than {MAX_SHEET_ROWS:,} rows; split it into several documents",
        ),
    ],
)
def test_a_document_over_a_limit_is_refused_before_it_is_read(name: str, data: bytes, message: str) -> None:
    with pytest.raises(DocumentTooLarge) as raised:
        load_document(name, data)
    assert (
        raised.value.message == f"{message}; split it into several documents"
        or raised.value.message == message
    )
    assert len(data) < 2 * 1024 * 1024  # small on the wire: the limit is on what it unpacks to


def test_documents_at_the_limits_are_read() -> None:
    rows = load_document("faq.csv", b"question,answer\n" + b"Open?,Yes\n" * MAX_SHEET_ROWS)
    assert len(rows.sections) == MAX_SHEET_ROWS
    assert load_document("blank.pdf", _pdf(3)).is_empty


def _typeset_pdf(lines: list[tuple[float, float, str]]) -> bytes:
    """A one-page PDF whose lines are (font size, baseline y, text)."""
    return hand_written_pdf(
        " ".join(f"BT /F1 {size} Tf 1 0 0 1 72 {y} Tm ({text}) Tj ET" for size, y, text in lines)
    )


def test_a_pdf_keeps_its_headings_paragraphs_and_list_items() -> None:
    data = _typeset_pdf(
        [
            (24, 765, "Spokes bike shop"),
            (18, 740, "Workshop prices"),
            (11, 715, "All repairs are done while you wait, usually within"),
            (11, 703, "the hour."),
            (11, 680, "- Puncture repair: 12 pounds per wheel"),
            (11, 668, "- Brake tune: 25 pounds"),
            (18, 640, "Opening hours"),
            (11, 615, "We open at nine."),
            (11, 590, "3"),
        ]
    )
    document = load_document("prices.pdf", data)
    assert (
        document.title == "Spokes bike shop"
    )  # the largest type, first: the title; a page number is dropped
    assert [(s.heading_path, s.text) for s in document.sections] == [
        (
            ("Workshop prices",),
            "All repairs are done while you wait, usually within the hour.\n\n"
            "- Puncture repair: 12 pounds per wheel\n- Brake tune: 25 pounds",
        ),
        (("Opening hours",), "We open at nine."),
    ]
