"""Sparkify warehouse as Dagster software-defined assets (the code location: ``definitions``)."""
