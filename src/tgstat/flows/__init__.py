"""The shell: settings, composition root, Prefect flows and CLI entry points."""
