"""Reads: every non-trivial query the API (and exports, dashboards) need, with a fixed query count."""
