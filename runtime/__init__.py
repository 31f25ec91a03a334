"""ncd-run — the NormCode runtime (not implemented yet)."""
