"""Trust: the cryptography that makes records provable (SM3 hashing, GB/T 32905)."""
