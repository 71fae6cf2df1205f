"""Decide's flow, one module per stage: `flow` runs claim → reread → gather → decide
(`acceptor.decision.decide_one`) → act → deliver → finish over a batch of requests."""

from acceptor.flows.decide.claim import idempotency_key
from acceptor.flows.decide.flow import BatchOutcome, DecideDeps, decide_batch, services_named
from acceptor.flows.decide.results import RecordFailed

__all__ = [
    "BatchOutcome",
    "DecideDeps",
    "RecordFailed",
    "decide_batch",
    "idempotency_key",
    "services_named",
]
