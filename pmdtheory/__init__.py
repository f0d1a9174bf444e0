"""pmdtheory."""
