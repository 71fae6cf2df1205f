"""Adapters: the only code that talks to AWS. Each translates `ClientError` codes into a few
domain exceptions (through a table) and takes its boto3 clients injected."""
