"""Policy language version 1: model, loading and validation, evaluation."""
