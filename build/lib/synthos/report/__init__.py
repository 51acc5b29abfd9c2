"""report.json (DESIGN section 9): the contract other tools read."""

from synthos.report.schema import SCHEMA_VERSION, empty_report, read_report, write_report

__all__ = ["SCHEMA_VERSION", "empty_report", "read_report", "write_report"]
