"""Catalog import: CSV and XLSX files, mapped to items, prices and stock counts.

readers (stream rows) -> mapping (which column is which field) -> planner (a pure preview of
one chunk of rows) -> jobs/preview (the plan stored per row) -> applier (batches through the
ledger, once per file and row).
"""
