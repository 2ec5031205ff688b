"""Message templates: the Graph API's listing read page by page, only approved ones kept, variables found,
values checked and filled in, the send's components, and the per-business cache."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.channel.templates import (
    MessageTemplate,
    TemplateSend,
    approved_templates,
    check_values,
    parse_template,
    render,
    variables_of,
)
from bot.channel.whatsapp import CloudAPIClient
from bot.desk.templates import TemplateCatalogue
from core.crypto import SecretBox
from core.errors import ChannelError, InvalidInput
from core.tenants import Business
from testing.graph_api import GraphStandIn, described_template
from tests.helpers import ORDER_READY, WABA_ID

described = described_template


def _template(body: str = "Hello {{1}}, your order {{2}} is ready.") -> MessageTemplate:
    parsed = parse_template(described("order_ready", body))
    assert parsed is not None
    return parsed


# --- parsing and filtering ----------------------------------------------------------------------------
def test_only_approved_templates_are_kept_sorted_by_name_then_language() -> None:
    listing = [
        described("welcome", "Hi!", language="fr"),
        described("welcome", "Hi!", language="en_GB"),
        described("promo", "Sale {{1}}", status="REJECTED"),
        described("draft", "Soon", status="PENDING"),
        described("paused", "Paused", status="PAUSED"),
        ORDER_READY,
        {"name": "broken", "status": "APPROVED"},  # no language, no body: nothing to send
    ]
    assert [t.key for t in approved_templates(listing)] == [
        ("order_ready", "en_US"),
        ("welcome", "en_GB"),
        ("welcome", "fr"),
    ]


def test_an_approved_template_is_read_with_its_body_variables_header_and_footer() -> None:
    header = {"type": "HEADER", "format": "TEXT", "text": "Your order"}
    parsed = parse_template(described("order_ready", "Hi {{1}}, order {{2}}.", extra=[header]))
    assert parsed == MessageTemplate(
        name="order_ready",
        language="en_US",
        category="UTILITY",
        body="Hi {{1}}, order {{2}}.",
        variables=("1", "2"),
        named=False,
        header="Your order",
        footer=None,
        unsupported=None,
    )


@pytest.mark.parametrize(
    ("text", "variables"),
    [
        ("no variables", ()),
        ("{{2}} then {{1}} then {{ 2 }}", ("1", "2")),
        ("{{10}} {{9}} {{1}}", ("1", "9", "10")),
        ("Hi {{first_name}}, order {{order_id}}", ("first_name", "order_id")),
    ],
)
def test_variables_are_found_once_each_in_order(text: str, variables: tuple[str, ...]) -> None:
    assert variables_of(text) == variables


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ([{"type": "HEADER", "format": "IMAGE"}], "header"),
        ([{"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"}], "header"),
        ([{"type": "BUTTONS", "buttons": [{"type": "URL", "url": "https://x.example/t/{{1}}"}]}], "button"),
        ([{"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "X"}]}], "button"),
    ],
)
def test_a_template_whose_header_or_button_needs_a_value_is_not_sendable(
    extra: list[dict[str, Any]], reason: str
) -> None:
    parsed = parse_template(described("media", "Body {{1}}", extra=extra))
    assert parsed is not None and parsed.unsupported is not None and reason in parsed.unsupported
    with pytest.raises(InvalidInput, match="cannot be sent from here"):
        check_values(parsed, ["x"])


def test_quick_reply_buttons_and_a_plain_header_need_nothing() -> None:
    extra = [
        {"type": "HEADER", "format": "TEXT", "text": "Hello"},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"}]},
    ]
    parsed = parse_template(described("ok", "Body {{1}}", extra=extra))
    assert parsed is not None and parsed.unsupported is None


# --- values ------------------------------------------------------------------------------------------
def test_values_must_match_the_variables_in_number() -> None:
    template = _template()
    with pytest.raises(InvalidInput, match="has 2 variable\\(s\\); 1 value\\(s\\) given"):
        check_values(template, ["Maria"])
    with pytest.raises(InvalidInput, match="3 value"):
        check_values(template, ["a", "b", "c"])
    assert check_values(template, [" Maria ", "A-17"]) == ["Maria", "A-17"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("   ", "give a value for \\{\\{1\\}\\}"),
        ("two\nlines", "new line"),
        ("a\ttab", "new line, a tab"),
        ("five     spaces", "four spaces"),
        ("x" * 1025, "1024 characters"),
    ],
)
def test_a_value_whatsapp_would_refuse_is_refused_here(value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_values(_template("Hi {{1}}"), [value])


def test_the_body_is_rendered_with_the_values() -> None:
    assert render(_template(), ["Maria", "A-17"]) == "Hello Maria, your order A-17 is ready."


def test_positional_and_named_components_and_none_without_variables() -> None:
    positional = TemplateSend("order_ready", "en_US", ("1", "2"), ("<PERSON_1>", "A-17"))
    assert positional.components(["Maria", "A-17"]) == [
        {"type": "body", "parameters": [{"type": "text", "text": "Maria"}, {"type": "text", "text": "A-17"}]}
    ]
    named = TemplateSend("hi", "en_US", ("first_name",), ("<PERSON_1>",), named=True)
    assert named.components(["Maria"]) == [
        {"type": "body", "parameters": [{"type": "text", "text": "Maria", "parameter_name": "first_name"}]}
    ]
    assert TemplateSend("hello_world", "en_US").components([]) == []


def test_a_stored_send_round_trips_and_an_older_row_still_reads() -> None:
    send = TemplateSend("order_ready", "en_GB", ("1",), ("<PERSON_1> «ü»",), False, "Hi <PERSON_1> «ü»")
    assert TemplateSend.from_json(send.to_json()) == send
    assert "«ü»" in send.to_json()  # stored as typed, not escaped
    assert TemplateSend.from_json('{"name": "order_ready", "language": "en_GB"}') == TemplateSend(
        "order_ready", "en_GB"
    )


# --- the Graph API listing ---------------------------------------------------------------------------
def test_the_listing_is_read_page_by_page_until_there_is_no_next(graph: GraphStandIn) -> None:
    graph.templates[WABA_ID] = [described(f"t{n}", f"Body {n}") for n in range(5)]
    client = CloudAPIClient(graph.base_url)
    try:
        listed = client.message_templates(waba_id=WABA_ID, token="EAAtest", page_size=2)
    finally:
        client.close()
    assert [t["name"] for t in listed] == ["t0", "t1", "t2", "t3", "t4"]
    pages = graph.template_listings
    assert len(pages) == 3 and all(p["auth"] == "Bearer EAAtest" for p in pages)
    assert (
        "after" not in pages[0]["path"] and "after=c2" in pages[1]["path"] and "after=c4" in pages[2]["path"]
    )
    assert all(p["path"].startswith(f"/v23.0/{WABA_ID}/message_templates?") for p in pages)


def _mock_client(handler: Any) -> CloudAPIClient:
    return CloudAPIClient("https://graph.example/v23.0", transport=httpx.MockTransport(handler))


def test_a_listing_that_never_ends_is_cut_off() -> None:
    def endless(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [], "paging": {"cursors": {"after": "x"}, "next": "more"}})

    with pytest.raises(ChannelError, match="more than 3 pages"):
        _mock_client(endless).message_templates(waba_id=WABA_ID, token="t", max_pages=3)


def test_an_answer_without_a_data_list_is_a_channel_error() -> None:
    with pytest.raises(ChannelError, match="without a `data` list"):
        _mock_client(lambda _r: httpx.Response(200, json={"oops": 1})).message_templates(
            waba_id=WABA_ID, token="t"
        )


# --- the cache -----------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def box() -> SecretBox:
    from cryptography.fernet import Fernet

    return SecretBox([Fernet.generate_key()])


def _business(box: SecretBox, waba_id: str | None = WABA_ID, token: str | None = "EAAtest") -> Business:
    return Business(
        id=7,
        name="crumb",
        display_name="Crumb",
        phone_number_id="1",
        waba_id=waba_id,
        access_token_sealed=box.seal(token) if token else None,
    )


def test_templates_are_kept_until_they_expire_or_are_refreshed(graph: GraphStandIn, box: SecretBox) -> None:
    graph.templates[WABA_ID] = [ORDER_READY, described("promo", "x", status="REJECTED")]
    clock = Clock()
    client = CloudAPIClient(graph.base_url)
    catalogue = TemplateCatalogue(client, box, ttl_s=600, clock=clock)
    business = _business(box)
    try:
        assert [t.name for t in catalogue.approved(business)] == ["order_ready"]
        clock.now += 599
        catalogue.approved(business)
        assert catalogue.find(business, "order_ready", "en_US").variables == ("1", "2")
        assert len(graph.template_listings) == 1  # page views answered from memory
        clock.now += 2
        catalogue.approved(business)
        assert len(graph.template_listings) == 2  # expired: read again
        graph.templates[WABA_ID].append(described("welcome", "Hi"))
        assert [t.name for t in catalogue.approved(business, refresh=True)] == ["order_ready", "welcome"]
        catalogue.forget(7)
        catalogue.approved(business)
        assert len(graph.template_listings) == 4
        graph.templates["999"] = []
        assert catalogue.approved(_business(box, waba_id="999")) == []  # another WABA id: read afresh
    finally:
        client.close()


def test_a_template_not_approved_or_unknown_is_refused(graph: GraphStandIn, box: SecretBox) -> None:
    graph.templates[WABA_ID] = [ORDER_READY, described("promo", "Sale", status="REJECTED")]
    client = CloudAPIClient(graph.base_url)
    catalogue = TemplateCatalogue(client, box)
    try:
        for name, language in (("promo", "en_US"), ("nope", "en_US"), ("order_ready", "fr")):
            with pytest.raises(InvalidInput, match="not one of this business's approved templates"):
                catalogue.find(_business(box), name, language)
    finally:
        client.close()


def test_without_a_waba_id_or_a_token_the_message_says_what_to_set(box: SecretBox) -> None:
    catalogue = TemplateCatalogue(_mock_client(lambda _r: httpx.Response(500)), box)
    with pytest.raises(InvalidInput, match=r"no WhatsApp Business Account id.*--waba-id"):
        catalogue.approved(_business(box, waba_id=None))
    with pytest.raises(InvalidInput, match="no access token"):
        catalogue.approved(_business(box, token=None))


def test_a_failed_read_is_remembered_briefly_then_tried_again(graph: GraphStandIn, box: SecretBox) -> None:
    graph.templates[WABA_ID] = [ORDER_READY]
    graph.template_failures.append(500)
    clock = Clock()
    client = CloudAPIClient(graph.base_url)
    catalogue = TemplateCatalogue(client, box, failure_ttl_s=30, clock=clock)
    try:
        for _ in range(2):
            with pytest.raises(ChannelError, match=r"could not be read from WhatsApp .*HTTP 500"):
                catalogue.approved(_business(box))
        assert len(graph.template_listings) == 1
        clock.now += 31
        assert [t.name for t in catalogue.approved(_business(box))] == ["order_ready"]
    finally:
        client.close()


def test_a_timeout_is_a_clear_channel_error(box: SecretBox) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    catalogue = TemplateCatalogue(_mock_client(slow), box)
    with pytest.raises(ChannelError, match="could not be read from WhatsApp \\(Graph API timed out\\)"):
        catalogue.approved(_business(box))
