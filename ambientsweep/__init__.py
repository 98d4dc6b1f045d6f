"""ambientsweep."""
