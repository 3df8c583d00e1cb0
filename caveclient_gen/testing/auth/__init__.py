"""The auth service (middle_auth): users, groups and tokens, its routes, and the checks every
service applies to its callers (``guard``, the middle_auth_client rules)."""
