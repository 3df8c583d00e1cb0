"""How requests are made: the session and its pool, plans and their runtimes, retries, errors from
statuses and failures, redaction, progress, and parsing what the generated functions return."""
