"""Automatic verification: seal specimens and checks, payment passwords, risk flags."""
