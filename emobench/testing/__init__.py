"""Helpers for tests of emobench and of its plugins (a tiny zoo built in seconds)."""
