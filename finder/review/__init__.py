"""What ingestion could not decide: cross-source "review" matches and conflicting values,
queued for moderators; their decisions are remembered across runs."""
