"""Compatibility with lolpop 0.2.0: its components' calls, and stores written the older ways."""
