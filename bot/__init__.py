"""The bot: a customer's message in, a reply out.

- `bot.channel`: WhatsApp in and out (webhook parsing, intake, the work queue and its worker, the outbox and
  its send lanes, the per-sender rate limit).
- `bot.turn`: one turn, from a stored message to the reply it gets (policies, language, responders, the
  transparency replies).
- `bot.desk`: the agent's side (the inbox, taking over and handing back, the retrieval playground).
- `bot.models`: the conversation tables all three share.
"""
