"""`wepos tenant`: businesses, their WhatsApp numbers and how the assistant behaves for each."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from api.cli.context import get_runtime

tenant_app = typer.Typer(help="Manage businesses (tenants).", no_args_is_help=True)


@tenant_app.command("create")
def tenant_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Slug, e.g. acme-shop.")],
    phone_number_id: Annotated[str, typer.Option("--phone-number-id", help="The Cloud API phone_number_id.")],
    access_token: Annotated[
        str | None, typer.Option(help="Cloud API bearer token; omit for console mode.")
    ] = None,
    display_name: Annotated[str | None, typer.Option(help="Name shown in replies.")] = None,
    waba_id: Annotated[
        str | None,
        typer.Option(
            "--waba-id", help="The WhatsApp Business Account id its approved templates are read from."
        ),
    ] = None,
    privacy_notice: Annotated[
        bool,
        typer.Option(
            "--privacy-notice/--no-privacy-notice",
            help="Send each new customer the privacy notice once, before the first answer (on by default).",
        ),
    ] = True,
) -> None:
    """Register a business and its WhatsApp number."""
    from bot.desk.conversations import configure_policy
    from core.db import session_scope
    from core.tenants import create_business

    runtime = get_runtime(ctx)
    with session_scope(runtime.engine) as session:
        business = create_business(
            session,
            name=name,
            phone_number_id=phone_number_id,
            box=runtime.box,
            display_name=display_name,
            access_token=access_token,
            waba_id=waba_id,
        )
        configure_policy(session, business_id=business.id or 0, privacy_notice_enabled=privacy_notice)
        mode = "Cloud API" if access_token else "console mode (no access token)"
        notice = "privacy notice on" if privacy_notice else "privacy notice off"
        typer.echo(f"tenant {business.name} (id {business.id}) created, {mode}, {notice}")


@tenant_app.command("list")
def tenant_list(ctx: typer.Context) -> None:
    """List businesses."""
    from sqlmodel import col, select

    from core.db import session_scope
    from core.tenants import Business

    with session_scope(get_runtime(ctx).engine) as session:
        for business in session.exec(select(Business).order_by(col(Business.id))).all():
            mode = "cloud-api" if business.access_token_sealed else "console"
            waba = f"waba {business.waba_id}" if business.waba_id else "no waba id"
            typer.echo(f"{business.id}\t{business.name}\t{business.phone_number_id}\t{mode}\t{waba}")


class NotSure(StrEnum):
    """What the bot does when it is not sure of an answer."""

    OFFER = "offer"  # says so, offers "Talk to a person", answers the next question
    HAND_OVER = "hand-over"  # says so and hands the conversation to a person


@tenant_app.command("configure")
def tenant_configure(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The business's name.")],
    instructions: Annotated[
        str | None, typer.Option(help="Tone, language, topics: told to the language model.")
    ] = None,
    hours: Annotated[
        str | None, typer.Option(help="Staffed hours, e.g. 'mon-fri 09:00-17:00, sat 10:00-14:00'.")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone of the hours, e.g. Europe/London.")
    ] = None,
    escalation_keyword: Annotated[
        list[str] | None, typer.Option(help="Extra phrase meaning 'a person, please' (repeatable).")
    ] = None,
    refuse_topic: Annotated[
        list[str] | None, typer.Option(help="Topic always handed to a person (repeatable).")
    ] = None,
    retention_days: Annotated[
        int | None, typer.Option(help="Purge conversations idle longer than this (`wepos retention run`).")
    ] = None,
    privacy_notice: Annotated[
        bool | None,
        typer.Option(
            "--privacy-notice/--no-privacy-notice", help="Tell each new contact the privacy notice once."
        ),
    ] = None,
    notice_text: Annotated[
        str | None,
        typer.Option(
            help="The notice's own text ({business}, {contact}, {days} filled in); '' for the default."
        ),
    ] = None,
    compliance_contact: Annotated[
        str | None, typer.Option(help="Where customers reach the compliance officer (e-mail or phone).")
    ] = None,
    not_sure: Annotated[
        NotSure | None,
        typer.Option(
            help="What a 'not sure' does: offer a person and go on answering, or hand over at once."
        ),
    ] = None,
    satisfaction_survey: Annotated[
        bool | None,
        typer.Option(
            "--satisfaction-survey/--no-satisfaction-survey",
            help="Ask the customer once for a 1-5 rating when a conversation is resolved (on by default).",
        ),
    ] = None,
    waba_id: Annotated[
        str | None,
        typer.Option(
            "--waba-id",
            help="The WhatsApp Business Account id its approved templates are read from; '' clears it.",
        ),
    ] = None,
) -> None:
    """Set how the assistant behaves for a business."""
    from bot.desk.conversations import configure_policy
    from core.db import session_scope
    from core.tenants import get_business_by_name, set_waba_id

    with session_scope(get_runtime(ctx).engine) as session:
        business = get_business_by_name(session, name)
        if waba_id is not None:
            set_waba_id(session, business, waba_id)
        policy = configure_policy(
            session,
            business_id=business.id or 0,
            instructions=instructions,
            hours_spec=hours,
            timezone=timezone,
            escalation_keywords=escalation_keyword,
            refuse_topics=refuse_topic,
            retention_days=retention_days,
            privacy_notice_enabled=privacy_notice,
            privacy_notice=notice_text,
            compliance_contact=compliance_contact,
            not_sure_hands_over=None if not_sure is None else not_sure is NotSure.HAND_OVER,
            satisfaction_survey_enabled=satisfaction_survey,
        )
        typer.echo(
            f"{name}: hours {policy.business_hours} ({policy.timezone}), "
            f"escalation keywords {policy.escalation_keywords}, refused topics {policy.refuse_topics}, "
            f"retention {policy.retention_days} days, "
            f"privacy notice {'on' if policy.privacy_notice_enabled else 'off'}, "
            f"not sure: {'hand over' if policy.not_sure_hands_over else 'offer a person'}, "
            f"satisfaction survey {'on' if policy.satisfaction_survey_enabled else 'off'}"
        )
        if waba_id is not None:
            where = (
                f"WhatsApp Business Account {business.waba_id}" if business.waba_id else "nowhere (none set)"
            )
            typer.echo(f"{name}: approved templates are read from {where}")
