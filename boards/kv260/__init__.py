"""Kria KV260 target: the Vivado batch flow to a Kria app (project.py) and its overlay."""
from .project import Kv260Project, write_project

__all__ = ["Kv260Project", "write_project"]
