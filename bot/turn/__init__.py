"""One turn: a stored customer message, masked, answered from the knowledge base or handed to a person."""
