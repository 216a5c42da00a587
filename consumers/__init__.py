"""Consumer processes: one entry point per Procfile line, all running the shared engine (consumers.engine)."""
