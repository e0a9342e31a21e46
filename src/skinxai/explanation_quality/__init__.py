"""``skinxai explain-eval``: explanation methods scored for localisation against lesion masks,
faithfulness to the model, and sanity under weight randomisation, beside trivial baselines."""
