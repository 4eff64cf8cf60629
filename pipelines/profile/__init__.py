"""Area profiles: the numbers a board sees, computed once for the page, the JSON, the CLI and
the briefing (model: ``model``; pure numbers: ``numbers``; reading the stores: ``gather``)."""
