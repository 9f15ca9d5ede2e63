"""Kria KV260 target: a Vivado project generator (boards/kv260/project.py)."""
from .project import Kv260Project, write_project

__all__ = ["Kv260Project", "write_project"]
