"""One conversation turn and the WhatsApp channel."""
