"""Rasa action server: form validation and submit actions, thin clients of the portal backend."""
