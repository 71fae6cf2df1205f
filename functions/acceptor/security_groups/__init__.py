"""Security groups a connection needs, added after an accept and removed after it ends.

Pure package: `model` (the data), `sources` (which CIDRs may be opened), `marking` (how a rule
names its endpoint), `plan` (what to add or remove, given what a group has), `ports` (what the
sequence needs from AWS), `add` and `remove` (the sequences), `triggers` (which bus events mean
what). The AWS side is `acceptor.aws.security_groups` and `acceptor.aws.rule_records`;
docs/security-groups.md explains the behaviour.
"""
