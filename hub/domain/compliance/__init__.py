"""Compliance: school profiles, rules that cite the customer's documents, and their findings (pure)."""
