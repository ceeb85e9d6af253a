"""The transports a delivery goes out on: :mod:`.smtp` (e-mail) and :mod:`.webhook`."""
