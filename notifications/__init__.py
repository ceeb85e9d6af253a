"""Notifications: the outbox written with each state change, and its delivery channels."""
