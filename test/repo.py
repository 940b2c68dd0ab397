"""Paths of the repository under test."""

import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
