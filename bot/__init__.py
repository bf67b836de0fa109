"""Rasa-side code: input channels that authenticate every message, and the web chat page (bot/web)."""
