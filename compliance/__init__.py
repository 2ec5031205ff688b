"""Compliance above the bot: data-subject rights and requests, retention, vault key rotation, the record of
processing and de-identified analytics. Reads the conversation tables of `bot.models`; the bot never imports it."""
