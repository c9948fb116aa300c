"""The synthetic world's small networks: identity, inversion encoder and feature network."""
