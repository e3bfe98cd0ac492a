"""What is special about support measures: their vocabulary (regions, firm sizes, sectors), the
`knowledge/measures/*.yaml` schema, status from dates, eligibility filters and the importers."""
