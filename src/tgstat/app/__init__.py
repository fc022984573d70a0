"""The composition root: settings from the environment, the embedded database, migrations,
the secret key, and adapters built from settings. ``tgstat.cli`` and ``tgstat.flows`` use it;
nothing below it imports it."""
