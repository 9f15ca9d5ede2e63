"""Published network models built with the compiler's model API (models/microcircuit.py)."""
