"""Trust: signed decisions (SM2 over SM3), department signing keys, and (elsewhere in this area)
the audit chain and the access log of grant use (DESIGN.md "Trust", docs/trust.md)."""
