"""PrivateLink Acceptor: the code that runs in Lambda (policy engine, adapters, handlers)."""
