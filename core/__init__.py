"""The neutral bottom of the house: it imports nothing of ours.

Typed settings, the database base, engine and clock, Norwegian identity
numbers, the time zone and languages, one key derivation and token codec,
and one OAuth client. Every other package may import it; it imports none
of them (an import-linter contract checks this).
"""
