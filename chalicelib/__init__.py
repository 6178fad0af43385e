"""Contacts service: everything deployed beside app.py."""
