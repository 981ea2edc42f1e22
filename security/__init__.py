"""The mesh's security gates: bandit with justified exceptions, outbound-connection tracing."""
