"""The NormCode grammar files (shipped in the wheel as the package ``ncdc.grammar``)."""
