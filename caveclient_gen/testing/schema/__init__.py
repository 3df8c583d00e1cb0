"""The schema service: the annotation schema definitions (with their data file) and its routes."""
