"""One router per resource; each translates HTTP into pipeline calls and results into responses."""
