"""WhatsApp in and out: webhook bodies parsed, messages stored and acknowledged, the work queue and its
worker, replies sent through the outbox and its send lanes."""
