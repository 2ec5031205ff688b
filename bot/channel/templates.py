"""WhatsApp message templates as the Graph API describes them: which are approved and can be sent from here,
their variables ({{1}}, {{2}} ... or named), a send's values checked and filled in, and the `components` of
the send. How a queued template send is stored (masked) on its `Message` row is here too, for the outbox."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidInput

TEMPLATE_KIND = "template"  # `Message.kind` of an outbound template
APPROVED = "APPROVED"
# `{{1}}`, `{{ 2 }}`, `{{first_name}}`: Meta's variables are digits (positional) or lower-case names.
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
# What Meta refuses in a text parameter: a new line, a tab, or more than four spaces in a row.
_REFUSED_IN_VALUE = re.compile(r"[\n\r\t]| {5,}")
MAX_VALUE_CHARS = 1024  # a body is at most 1,024 characters: no one value can be longer
# Header formats that need a value at send time (media to attach, a location): not sendable from here.
_MEDIA_HEADERS = {"IMAGE", "VIDEO", "DOCUMENT", "LOCATION"}


@dataclass(frozen=True)
class MessageTemplate:
    """One approved template in one language: its body, the body's variables in order, and whether an
    agent can send it from Wepos (only body variables are filled here; a header or button that needs a
    value of its own makes it `unsupported`)."""

    name: str
    language: str
    category: str
    body: str
    variables: tuple[str, ...]
    named: bool  # named variables ({{first_name}}): their values go with `parameter_name`
    header: str | None = None
    footer: str | None = None
    unsupported: str | None = None  # why it cannot be sent from here

    @property
    def key(self) -> tuple[str, str]:
        return self.name, self.language


def variables_of(text: str) -> tuple[str, ...]:
    """The variables of a template text, each once: positional ones by number, named ones as they appear."""
    found = list(dict.fromkeys(match.group(1) for match in _VARIABLE.finditer(text)))
    if found and all(v.isdigit() for v in found):
        return tuple(sorted(found, key=int))
    return tuple(found)


def parse_template(raw: dict[str, Any]) -> MessageTemplate | None:
    """An approved template from the Graph API's description; None for any other status, or one without a
    name, language or body (nothing an agent could send)."""
    if raw.get("status") != APPROVED:
        return None
    name, language = raw.get("name"), raw.get("language")
    components = raw.get("components")
    listed = components if isinstance(components, list) else []
    parts = {str(c.get("type", "")).upper(): c for c in listed if isinstance(c, dict)}
    body = parts.get("BODY", {}).get("text")
    if not isinstance(name, str) or not isinstance(language, str) or not isinstance(body, str):
        return None
    variables = variables_of(body)
    header = parts.get("HEADER")
    header_text = header.get("text") if header and isinstance(header.get("text"), str) else None
    footer = parts.get("FOOTER", {}).get("text")
    unsupported = None
    if header and (
        str(header.get("format", "TEXT")).upper() in _MEDIA_HEADERS or variables_of(header_text or "")
    ):
        unsupported = "its header needs a value (media, a location or a variable)"
    elif any(_button_needs_value(b) for b in parts.get("BUTTONS", {}).get("buttons") or []):
        unsupported = "one of its buttons needs a value"
    elif any(not v.isdigit() for v in variables) and any(v.isdigit() for v in variables):
        unsupported = "it mixes numbered and named variables"
    return MessageTemplate(
        name=name,
        language=language,
        category=str(raw.get("category") or ""),
        body=body,
        variables=variables,
        named=str(raw.get("parameter_format", "")).upper() == "NAMED"
        or any(not v.isdigit() for v in variables),
        header=header_text,
        footer=footer if isinstance(footer, str) else None,
        unsupported=unsupported,
    )


def _button_needs_value(button: Any) -> bool:
    if not isinstance(button, dict):
        return False
    kind = str(button.get("type", "")).upper()
    return kind in {"COPY_CODE", "OTP", "FLOW", "CATALOG", "MPM"} or bool(
        variables_of(str(button.get("url") or ""))
    )


def approved_templates(described: Sequence[dict[str, Any]]) -> list[MessageTemplate]:
    """The approved ones of a listing, by name then language."""
    parsed = (parse_template(raw) for raw in described)
    return sorted((t for t in parsed if t is not None), key=lambda t: t.key)


def check_values(template: MessageTemplate, values: Sequence[str]) -> list[str]:
    """The values of a send, one a variable in order, trimmed; refused when their count differs from the
    variables', or one is empty or holds what WhatsApp refuses (a new line, a tab, five spaces in a row)."""
    if template.unsupported:
        raise InvalidInput(f"template {template.name!r} cannot be sent from here: {template.unsupported}")
    if len(values) != len(template.variables):
        raise InvalidInput(
            f"template {template.name!r} has {len(template.variables)} variable(s); {len(values)} value(s) given"
        )
    checked = []
    for variable, value in zip(template.variables, values, strict=True):
        value = value.strip()
        if not value:
            raise InvalidInput(f"give a value for {{{{{variable}}}}}")
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidInput(f"the value for {{{{{variable}}}}} is limited to {MAX_VALUE_CHARS} characters")
        if _REFUSED_IN_VALUE.search(value):
            raise InvalidInput(
                f"the value for {{{{{variable}}}}} may not hold a new line, a tab or more than four spaces in a row"
            )
        checked.append(value)
    return checked


def render(template: MessageTemplate, values: Sequence[str]) -> str:
    """The body with each variable replaced by its value (what the customer reads)."""
    filled = dict(zip(template.variables, values, strict=True))
    return _VARIABLE.sub(lambda match: filled.get(match.group(1), match.group(0)), template.body)


@dataclass(frozen=True)
class TemplateSend:
    """A queued template send as its `Message` row stores it (JSON in `text_masked`): the template, its
    variables, the values masked (placeholders for personal data), and the body as rendered from them."""

    name: str
    language: str
    variables: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    named: bool = False
    body: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "language": self.language,
                "variables": list(self.variables),
                "values": list(self.values),
                "named": self.named,
                "body": self.body,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, stored: str | None) -> TemplateSend:
        data = json.loads(stored or "{}")
        return cls(
            name=data["name"],
            language=data["language"],
            variables=tuple(data.get("variables") or ()),
            values=tuple(data.get("values") or ()),
            named=bool(data.get("named")),
            body=str(data.get("body") or ""),
        )

    def components(self, values: Sequence[str]) -> list[dict[str, Any]]:
        """The send's `components` with these (restored) values: one body component, or none without
        variables."""
        if not self.variables:
            return []
        parameters: list[dict[str, Any]] = []
        for variable, value in zip(self.variables, values, strict=True):
            parameter: dict[str, Any] = {"type": "text", "text": value}
            if self.named:
                parameter["parameter_name"] = variable
            parameters.append(parameter)
        return [{"type": "body", "parameters": parameters}]

    def display(self) -> str:
        """How the transcript shows it: the template's name and language, and its (masked) body."""
        return (
            f"{self.name} ({self.language}): {self.body}" if self.body else f"{self.name} ({self.language})"
        )
