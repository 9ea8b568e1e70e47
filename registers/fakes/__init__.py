"""Loopback fakes of the national registers, for development and tests."""
