"""Format readers on their own: what a file becomes, and the clear error a bad one gets."""

from __future__ import annotations

import io

import pytest

from core.errors import CorruptDocument
from ingest.loaders import load_document


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
