"""Where a call's redacted output goes besides the store: the outbox drain, MQTT, the /live hub."""
