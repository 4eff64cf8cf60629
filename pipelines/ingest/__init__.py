"""Sources of police.uk crime: the bulk archive and the live API. Each yields canonical rows."""
