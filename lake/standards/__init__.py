"""Data standards: data elements and code tables, shipped as data files."""
