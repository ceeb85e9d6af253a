"""Data quality (art. 13, 15): suspected data errors verified by the provider, records flagged
while under verification, citizens served on proof, provider data-quality figures."""
