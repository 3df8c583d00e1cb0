"""The world every service reads and writes: the deployment, its seeded random streams and the
default world a LocalCAVE starts with."""
