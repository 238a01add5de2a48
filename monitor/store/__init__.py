"""Durable storage: SQLite (WAL) with encrypted content, the outbox, GDPR duties and data keys."""
