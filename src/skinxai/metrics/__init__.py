"""Metrics: classification now; localisation and faithfulness of explanations later."""
