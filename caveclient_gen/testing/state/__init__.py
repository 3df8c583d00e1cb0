"""The JSON state service: its datastore of Neuroglancer states and its routes."""
