"""The published-port store: immutable snapshots switched atomically, reader leases,
retention, the read-only views file and change tracking between snapshots.
"""
