"""Portal backend: the source of truth for accounts, users, assets, cases and knowledge articles."""
