"""Local tooling for PrivateLink Acceptor (CLI, local AWS, replay). Never deployed."""
