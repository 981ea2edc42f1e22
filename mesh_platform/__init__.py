"""The self-serve data platform: turns data-product descriptors into governed Dagster definitions.

Nothing in this package knows about a particular company: domains compose it.
"""
