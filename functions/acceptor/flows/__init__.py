"""What each function does, between its thin handler and the adapters: one module per flow."""
