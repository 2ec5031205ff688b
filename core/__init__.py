"""Settings, database engine, encryption primitives and the error tree; imports nothing else of ours."""
