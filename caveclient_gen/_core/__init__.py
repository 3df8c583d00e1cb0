"""What the sub-clients of one client share: ClientCore, datastack resolution, tokens, first-time token
setup and notebook display."""
