"""Gift cards: products, cards, the append-only ledger, codes and redemption."""
