"""Sharing (art. 11, 12, 14): share requests, grants and their use check, negotiation and
coordination, dispute dossiers."""
