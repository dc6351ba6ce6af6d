"""Models of keying: routing rules, entry tasks with leases, keys and their outcomes."""
