"""The web service: HTTP in, studies and results out (JSON, CSV, HTML pages and maps)."""
