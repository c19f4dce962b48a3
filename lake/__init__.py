"""Storage layer: the catalog, Delta tables, ingestion and DuckDB extensions."""
