"""Oversight (art. 17, 20, 23, 24): IT project approval and acceptance, the yearly evaluation and
its reports, the breach ledger with appeals and rectification, public figures."""
