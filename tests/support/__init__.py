"""Shared fakes and fixtures of the test suite (test modules import from here, never from each other)."""
