"""Organisations' own listings: the group JSON they send and its validation (`payload`),
the submissions' states and moderation (`service`), the duplicate guard (`duplicates`) and
the write API (`api`). Nothing here is public until a moderator (or trust) publishes it
through the listing store (`finder.listings.store`).
"""
