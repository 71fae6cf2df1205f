"""Deciding connection requests: pure planning around the policy evaluator (no AWS, no clock).

`connection` is what the provider sees of a connection, `verdict` turns an evaluation into what
to do (hold expiry, the revocation two-step, acting only from the right state), `actions` groups
the accepts and rejects per service and settles per-item failures, `sweep` is the Reconcile plan.
"""
