"""What staff write: the schema of the knowledge files, their parsers, loading and validation."""
