"""Secrets from the environment as ``dagster.EnvVar``: resolved when a run starts, never shown."""

from __future__ import annotations

import os

from dagster import EnvVar


def value_of(field: str) -> str:
    """A field's value in or outside a run (outside, an EnvVar field still holds the EnvVar)."""
    return (field.get_value() or "") if isinstance(field, EnvVar) else field


def secret_from_env(variable: str) -> str | EnvVar:
    return EnvVar(variable) if os.environ.get(variable) else ""
