"""Reporters render `Result` records (and stress reports); they never run code.

- `terminal`    rich output for people: result lines, failure panels, tables.
- `json_report` the contract's JSON rows and stress objects.
- `gradebook`   the batch gradebook CSV.
"""

from grader.reporters.gradebook import gradebook_csv
from grader.reporters.json_report import rows, rows_json, stress_json, stress_object

__all__ = ["gradebook_csv", "rows", "rows_json", "stress_json", "stress_object"]
