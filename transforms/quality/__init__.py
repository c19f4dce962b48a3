"""Data quality: rules from the catalog and the data standards, run before, during and after aggregation.

- :mod:`~transforms.quality.derive`: the rules, derived from the catalog plus ``quality_rules.toml``.
- :mod:`~transforms.quality.contract`: "before", the ingest contract (quarantine, reconciliation).
- :mod:`~transforms.quality.records`: "during" (standardization's validity flags, format) and "after"
  (completeness, ranges, uniqueness, late records, referential integrity) over every record.
- :mod:`~transforms.quality.consistency`: "after", records disagreeing with the authoritative source.
- :mod:`~transforms.quality.freshness`: "after", deliveries against the update cycle.
- :mod:`~transforms.quality.run`: a run, its id, and its appends (failures, re-checks, results).
- :mod:`~transforms.quality.rechecks`: which records of corrected feedback tickets a run re-checked.
- :mod:`~transforms.quality.scorecard`: scorecards and the change since the previous run.
- :mod:`~transforms.quality.detection`: detection scored against the generator's truth.

See docs/quality.md.
"""
