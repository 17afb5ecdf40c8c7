"""The pipeline's steps: one module per step, pure functions over the records in tasks.records."""
