"""Official documents brought in from PDF, Word, web pages and Markdown as knowledge/documents/<slug>.md."""
