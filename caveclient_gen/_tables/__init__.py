"""Table queries and DataFrames: filters, query requests, live queries, table/view managers and
staged annotations."""
