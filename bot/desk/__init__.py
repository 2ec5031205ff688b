"""The agent's desk: the inbox, conversations taken over and handed back, the retrieval playground."""
