"""Small runnable clients of the Contacts API (never deployed)."""
