"""Training jobs: launch ``python -m training`` runs, track them, register their models (DESIGN §4)."""
