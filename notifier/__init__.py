"""The supervisor notifier: `dossier-alerts` -> decisions (policy.py) -> SQLite outbox (store.py) -> e-mail,
webhooks, file (delivery.py); service.py runs the loop, settings.py reads the environment."""
