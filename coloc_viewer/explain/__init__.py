"""Feature-map capture, channel ranking, CAMs and common intensity scales (torch, no Qt)."""
