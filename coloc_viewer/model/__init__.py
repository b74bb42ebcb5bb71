"""Model cards, safe loading and bundled models (torch, no Qt)."""
