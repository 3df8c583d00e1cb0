"""Checking and converting values between Python and the wire: inputs, id arrays, server versions and
data source paths."""
