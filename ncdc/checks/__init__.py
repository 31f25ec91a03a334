"""Rule families, one module each. Every rule reports through a ``Reporter`` with a stable code."""
