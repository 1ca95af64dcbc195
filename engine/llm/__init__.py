"""Model access: providers, the embedded local model, the gateway, the ledger."""
