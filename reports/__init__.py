"""Stakeholder reports from run folders: report.html (charts inlined), report.pdf, summary.md and report.json.

Entry point: `reports.builder.generate`; what goes in: `reports.sources`; the content: `reports.model`.
"""
